// Many hosts on one machine: how fast the composer places VMIs with 1, 2 and 4 replicas, how
// many creates per second 1, 2 and 3 hosts take, and how long a host's death takes to show.
//
//   node --import tsx bench/cluster/main.ts [--vmis 48] [--replicas 1,2,4] [--hosts 1,2,3]
//        [--modes define-only,start] [--quick] [--json PATH]
//
// Placements: validator and R composers, no launcher; three Ready host records are written
// by hand, so each VMI is composed, placed and its plan handed to a host, which nobody takes.
// Timed from the first apply to the last plan seen on headroom.host.>, 16 applies in flight.
// Creates: validator, one composer, H launchers (nodes bench-1 … bench-H, one libvirtd),
// 8 in flight, until each VMI's reserved event (define-only) or Running (start).
// Loss: a define-only VMI on a host whose launcher (heartbeat 1 s, lost after 5 s) is
// SIGKILLed; the time until get reads Unknown, then Failed (NodeLost).
import { encode, ensureBuckets } from "@headroom/bus";
import { HostCondition, HostRecord, Phase } from "@headroom/proto";
import { type Manifest, type Stack, startStack } from "@headroom/test-stack";
import { benchArgs, integer, integers, someOf } from "../lib/args.ts";
import { type BenchHost, withBenchHost } from "../lib/guest.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { roundTo } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";
import { type PipelineWatch, type Stage, watchPipeline } from "../lib/watch.ts";

const args = benchArgs({
  script: "bench/cluster/main.ts",
  json: "bench/results/cluster.json",
  flags: {
    vmis: integer({ full: 48, quick: 8 }),
    replicas: integers({ full: [1, 2, 4], quick: [1, 2] }),
    hosts: integers({ full: [1, 2, 3], quick: [1, 2] }),
    modes: someOf(["define-only", "start"] as const),
  },
});
const { vmis, replicas: replicaLevels, hosts: hostLevels, modes, json: jsonPath } = args;
type Mode = (typeof modes)[number];

interface Row {
  what: string;
  level: number;
  vmis: number;
  seconds: number;
  perSecond: number;
  spread?: Record<string, number>;
}

/** Applies every VMI, at most `inFlight` waiting for `stage` at once; seconds for all. */
async function applyAll(
  stack: Stack,
  watch: PipelineWatch,
  names: string[],
  stage: Stage,
  inFlight: number,
): Promise<{ seconds: number; uids: Map<string, string> }> {
  const manifests = new Map<string, Manifest>();
  for (const name of names) manifests.set(name, await stack.seedManifest(name, { request: 8 }));
  const uids = new Map<string, string>();
  const pending = [...names];
  const started = performance.now();
  const worker = async () => {
    for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
      const reply = await stack.apply(manifests.get(name));
      const uid = reply.accepted?.uid;
      if (!uid) throw new Error(`apply of ${name} not accepted: ${JSON.stringify(reply.toJSON())}`);
      uids.set(name, uid);
      await watch.next(name, stage, uid, 300_000);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, names.length) }, worker));
  return { seconds: (performance.now() - started) / 1000, uids };
}

/** A host record that stays Ready for the length of the benchmark. */
async function fakeHost(stack: Stack, node: string) {
  const buckets = await ensureBuckets(stack.nc);
  const record = HostRecord.create({
    node,
    condition: HostCondition.HOST_CONDITION_READY,
    updatedUnixMs: Date.now(),
    heartbeatMs: 3_600_000,
    memoryBytes: 1024 ** 4,
    labels: { "kubernetes.io/hostname": node },
  });
  await buckets.hosts.put(node, encode(HostRecord, record));
}

async function placements(host: BenchHost, replicas: number): Promise<Row> {
  const namespace = `${host.namePrefix}p${replicas}`;
  const stack = await startStack({
    namespace,
    logins: false,
    services: ["validator", ...Array.from({ length: replicas }, () => "domain-composer" as const)],
  });
  host.onClose(() => stack.stop());
  try {
    for (const node of ["bench-a", "bench-b", "bench-c"]) await fakeHost(stack, node);
    const watch = await watchPipeline(stack.nc, namespace);
    await applyAll(stack, watch, ["warm-up"], "plan", 1);
    const names = Array.from({ length: vmis }, (_, i) => `p-${i}`);
    const { seconds } = await applyAll(stack, watch, names, "plan", 16);
    await watch.close();
    const row = { what: "placements", level: replicas, vmis, seconds, perSecond: vmis / seconds };
    console.log(`${replicas} composer(s): ${vmis} VMIs placed in ${seconds.toFixed(2)} s`);
    return row;
  } finally {
    await stack.stop();
  }
}

async function creates(host: BenchHost, hosts: number, mode: Mode): Promise<Row> {
  const namespace = `${host.namePrefix}${mode === "start" ? "s" : "d"}${hosts}`;
  const env = {
    HEADROOM_VIRT_TYPE: host.virtType,
    HEADROOM_NODE_NAME: "bench-1",
    ...(mode === "define-only" ? { HEADROOM_LAUNCHER_DEFINE_ONLY: "1" } : {}),
  };
  const stack = await startStack({ namespace, logins: false, env });
  host.onClose(() => stack.stop());
  try {
    for (let i = 2; i <= hosts; i++)
      await stack.start("launcher", { ...env, HEADROOM_NODE_NAME: `bench-${i}` });
    const watch = await watchPipeline(stack.nc, namespace);
    const stage = mode === "start" ? "running" : "reserved";
    await applyAll(stack, watch, ["warm-up"], stage, 1);
    const names = Array.from({ length: vmis }, (_, i) => `c-${i}`);
    const { seconds } = await applyAll(stack, watch, names, stage, 8);
    const spread: Record<string, number> = {};
    for (const name of names) {
      const node = (await stack.get(name)).vmi?.status?.node ?? "?";
      spread[node] = (spread[node] ?? 0) + 1;
    }
    await watch.close();
    console.log(
      `${hosts} host(s), ${mode}: ${vmis} VMIs in ${seconds.toFixed(2)} s, ${JSON.stringify(spread)}`,
    );
    return {
      what: `creates ${mode}`,
      level: hosts,
      vmis,
      seconds,
      perSecond: vmis / seconds,
      spread,
    };
  } finally {
    await stack.stop();
  }
}

async function loss(host: BenchHost) {
  const namespace = `${host.namePrefix}l`;
  const timing = { HEADROOM_HEARTBEAT_MS: "1000", HEADROOM_NODE_LOST_AFTER_MS: "5000" };
  const env = { HEADROOM_VIRT_TYPE: host.virtType, HEADROOM_LAUNCHER_DEFINE_ONLY: "1", ...timing };
  const stack = await startStack({
    namespace,
    logins: false,
    env: { ...env, HEADROOM_NODE_NAME: "stays" },
  });
  host.onClose(() => stack.stop());
  try {
    const doomed = await stack.start("launcher", { ...env, HEADROOM_NODE_NAME: "dies" });
    const manifest = await stack.seedManifest("on-dies");
    manifest.spec.nodeSelector = { "kubernetes.io/hostname": "dies" };
    const watch = await watchPipeline(stack.nc, namespace);
    const uid = (await stack.apply(manifest)).accepted?.uid ?? "";
    await watch.next("on-dies", "reserved", uid, 120_000);
    await watch.close();
    const killed = performance.now();
    await doomed.kill();
    const phaseAfter = async (phase: Phase) => {
      for (;;) {
        if ((await stack.get("on-dies")).vmi?.status?.phase === phase)
          return performance.now() - killed;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const unknownMs = await phaseAfter(Phase.PHASE_UNKNOWN);
    const lostMs = await phaseAfter(Phase.PHASE_FAILED);
    console.log(
      `host death → Unknown ${unknownMs.toFixed(0)} ms, → NodeLost ${lostMs.toFixed(0)} ms`,
    );
    return {
      heartbeatMs: 1000,
      lostAfterMs: 5000,
      unknownMs: roundTo(unknownMs, 0),
      nodeLostMs: roundTo(lostMs, 0),
    };
  } finally {
    await stack.stop();
  }
}

const wallStarted = performance.now();
const result = await withBenchHost("cluster", async (host) => {
  const machine = await describeMachine(host.conn);
  console.log(`cluster on ${machineLine(machine)}`);
  const rows: Row[] = [];
  for (const replicas of replicaLevels) rows.push(await placements(host, replicas));
  for (const mode of modes)
    for (const hosts of hostLevels) rows.push(await creates(host, hosts, mode));
  const lost = await loss(host);
  return { machine: finishMachine(machine), virtType: host.virtType, rows, lost };
});

const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
console.log(
  `\nmany hosts on one machine (${result.virtType === "kvm" ? "KVM" : "TCG"}), ${vmis} VMIs per row; ` +
    "the hosts share this machine's CPUs and libvirtd\n",
);
console.log(
  markdownTable(
    ["measure", "composers or hosts", "VMIs", "all done s", "per second", "VMIs per host"],
    result.rows.map((row) => [
      row.what,
      String(row.level),
      String(row.vmis),
      row.seconds.toFixed(2),
      row.perSecond.toFixed(1),
      row.spread ? Object.values(row.spread).sort().join(" / ") : "",
    ]),
  ),
);
console.log(
  `\nhost death (heartbeat ${result.lost.heartbeatMs} ms, lost after ${result.lost.lostAfterMs} ms): ` +
    `Unknown after ${result.lost.unknownMs} ms, NodeLost after ${result.lost.nodeLostMs} ms`,
);
console.log(`\ncluster took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, {
    benchmark: "cluster",
    date: new Date().toISOString(),
    command: args.command,
    machine: result.machine,
    virtType: result.virtType,
    seconds,
    rows: result.rows.map((row) => ({
      ...row,
      seconds: roundTo(row.seconds, 2),
      perSecond: roundTo(row.perSecond, 2),
    })),
    lost: result.lost,
  });
  console.log(`wrote ${jsonPath}`);
}
