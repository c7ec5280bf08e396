// Creates per second end to end: VMIs applied through the services until every one runs,
// with one launcher, at a few concurrencies; then the same with the launcher defining the
// domains without starting them (HEADROOM_LAUNCHER_DEFINE_ONLY), which shows the control plane
// without the guests' boot competing for the CPU.
//
//   node --import tsx bench/creates/main.ts [--vmis 16] [--concurrency 1,4,16]
//        [--modes start,define-only] [--quick] [--json PATH]
//
// For each concurrency C: K VMIs (the seed example with kubevirt.io/interface 8: q35, two
// NICs, the tiny guest) are applied with at most C waiting for Running at a time — a new
// apply goes out when one before it reports Running. Timed from the first apply to the last
// Running (the launcher's status write, seen through a NATS subscription); each VMI's own
// time is its apply to its Running. Then all K are deleted through the API and the level
// ends when every released event has arrived. In define-only mode a create ends at the
// launcher's reserved event (the domain defined with its room; there is no Running). Guests keep booting and idling under the
// virtualization type chooseVirtType picked while the next ones launch, as on a real host.
import { freemem, loadavg } from "node:os";
import { type Manifest, type Stack, startStack } from "@headroom/test-stack";
import { benchArgs, integer, integers, someOf } from "../lib/args.ts";
import { type BenchHost, withBenchHost } from "../lib/guest.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { cpuSeconds, libvirtdPid, pidsMatching } from "../lib/proc.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";
import { type PipelineWatch, watchPipeline } from "../lib/watch.ts";

const args = benchArgs({
  script: "bench/creates/main.ts",
  json: "bench/results/creates.json",
  flags: {
    vmis: integer({ full: 16, quick: 4 }),
    concurrency: integers({ full: [1, 4, 16], quick: [1, 4] }),
    modes: someOf(["start", "define-only"] as const),
  },
});
const { vmis, concurrency: levels, modes, json: jsonPath } = args;
type Mode = (typeof modes)[number];
const CAPACITY = 8;
const GiB = 1024 ** 3;

/** Applies `name` and resolves with its uid and ms from the apply to its Running (or reserved). */
async function create(
  stack: Stack,
  watch: PipelineWatch,
  mode: Mode,
  name: string,
  manifest: Manifest,
) {
  const started = performance.now();
  const reply = await stack.apply(manifest);
  const uid = reply.accepted?.uid;
  if (!uid) throw new Error(`apply of ${name} not accepted: ${JSON.stringify(reply.toJSON())}`);
  const done = await watch.next(name, mode === "start" ? "running" : "reserved", uid, 300_000);
  return { uid, ms: done.at - started };
}

/** Deletes every VMI through the API, all at once, and waits for their released events. */
async function deleteAll(stack: Stack, watch: PipelineWatch, created: Map<string, string>) {
  await Promise.all(
    [...created].map(async ([name, uid]) => {
      const reply = await stack.delete(name);
      if (!reply.deleted) throw new Error(`delete of ${name}: ${reply.message}`);
      await watch.next(name, "released", uid, 300_000);
    }),
  );
  const left = await stack.domains();
  if (left.length > 0) throw new Error(`domains left after their release: ${left.join(", ")}`);
}

interface Level {
  mode: Mode;
  concurrency: number;
  vmis: number;
  seconds: number;
  createsPerSecond: number;
  latencyMs: Summary;
  deleteSeconds: number;
  freeMemoryGiB: { before: number; allRunning: number };
  maxLoad1: number;
  /**
   * CPU used while the level ran, in percent of one core (the machine has `cores` of them):
   * the guests' QEMU processes, the services and libvirtd.
   */
  cpuPercent: { guests: number; launcher: number; validatorAndComposer: number; libvirtd: number };
  /** Each VMI's apply → Running in the order they were applied. */
  samplesMs: number[];
}

const wallStarted = performance.now();
const result = await withBenchHost("creates", async (host) => {
  const machine = await describeMachine(host.conn);
  console.log(`creates on ${machineLine(machine)}`);
  console.log(`virtualization: ${host.virtType} (${host.virtTypeReason})`);
  const results: Level[] = [];
  for (const mode of modes) results.push(...(await runMode(host, mode)));
  return { machine: finishMachine(machine), virtType: host.virtType, levels: results };
});

async function runMode(host: BenchHost, mode: Mode): Promise<Level[]> {
  const namespace = `${host.namePrefix}${mode === "start" ? "s" : "d"}`;
  // No logins: the watch subscribes to the services' own subjects, which no user may.
  const stack = await startStack({
    namespace,
    logins: false,
    env: {
      HEADROOM_VIRT_TYPE: host.virtType,
      ...(mode === "define-only" ? { HEADROOM_LAUNCHER_DEFINE_ONLY: "1" } : {}),
    },
  });
  host.onClose(() => stack.stop());
  const watch = await watchPipeline(stack.nc, namespace);
  console.log(`${mode}: stack up: nats-server, validator, domain-composer, one launcher`);

  // Warm-up: the services' first create and delete.
  const warm = await create(
    stack,
    watch,
    mode,
    "warm-up",
    await stack.seedManifest("warm-up", { request: CAPACITY }),
  );
  await deleteAll(stack, watch, new Map([["warm-up", warm.uid]]));

  const results: Level[] = [];
  for (const concurrency of levels) {
    const names = Array.from({ length: vmis }, (_, i) => `c${concurrency}-${i}`);
    const manifests = new Map<string, Manifest>();
    for (const name of names)
      manifests.set(name, await stack.seedManifest(name, { request: CAPACITY }));
    const created = new Map<string, string>();
    const latencies: number[] = [];
    const byName = new Map<string, number>();
    const freeBefore = freemem();
    const daemon = libvirtdPid();
    const cpuOf = () => ({
      launcher: cpuSeconds(stack.service("launcher").pid),
      others:
        cpuSeconds(stack.service("validator").pid) +
        cpuSeconds(stack.service("domain-composer").pid),
      libvirtd: daemon ? cpuSeconds(daemon) : 0,
    });
    const cpuBefore = cpuOf();
    let maxLoad1 = loadavg()[0] ?? 0;
    const pending = [...names];
    const started = performance.now();
    const worker = async () => {
      for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
        const done = await create(stack, watch, mode, name, manifests.get(name) as Manifest);
        created.set(name, done.uid);
        latencies.push(done.ms);
        byName.set(name, done.ms);
        maxLoad1 = Math.max(maxLoad1, loadavg()[0] ?? 0);
      }
    };
    let seconds = 0;
    let freeAllRunning = 0;
    let deleteSeconds = 0;
    let cpuAllRunning = cpuBefore;
    let guestsCpu = 0;
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, vmis) }, worker));
    } finally {
      // Whatever was created goes, also when a create failed.
      seconds = (performance.now() - started) / 1000;
      freeAllRunning = freemem();
      cpuAllRunning = cpuOf();
      // Every guest of the namespace started in this level: its CPU time is this level's.
      for (const pid of pidsMatching(new RegExp(`guest=${namespace}_`)))
        guestsCpu += cpuSeconds(pid);
      const deleting = performance.now();
      await deleteAll(stack, watch, created);
      deleteSeconds = (performance.now() - deleting) / 1000;
    }
    const level: Level = {
      mode,
      concurrency,
      vmis,
      seconds: roundTo(seconds, 2),
      createsPerSecond: roundTo(vmis / seconds, 2),
      latencyMs: summarize(latencies, 0),
      deleteSeconds: roundTo(deleteSeconds, 1),
      freeMemoryGiB: {
        before: roundTo(freeBefore / GiB, 1),
        allRunning: roundTo(freeAllRunning / GiB, 1),
      },
      maxLoad1: roundTo(maxLoad1, 2),
      cpuPercent: {
        guests: roundTo((guestsCpu / seconds) * 100, 0),
        launcher: roundTo(((cpuAllRunning.launcher - cpuBefore.launcher) / seconds) * 100, 0),
        validatorAndComposer: roundTo(
          ((cpuAllRunning.others - cpuBefore.others) / seconds) * 100,
          0,
        ),
        libvirtd: roundTo(((cpuAllRunning.libvirtd - cpuBefore.libvirtd) / seconds) * 100, 0),
      },
      samplesMs: names.map((name) => roundTo(byName.get(name) ?? Number.NaN, 0)),
    };
    results.push(level);
    console.log(
      `${mode}, concurrency ${concurrency}: ${vmis} VMIs ${mode === "start" ? "Running" : "defined"} in ${level.seconds} s ` +
        `(${level.createsPerSecond}/s), per VMI median ${level.latencyMs.median} ms, ` +
        `p95 ${level.latencyMs.p95} ms; deleted in ${level.deleteSeconds} s`,
    );
  }
  await watch.close();
  await stack.stop();
  return results;
}

const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
const report = {
  benchmark: "creates",
  date: new Date().toISOString(),
  command: args.command,
  machine: result.machine,
  virtType: result.virtType,
  vmi: `examples/vmi-seed.yaml with kubevirt.io/interface ${CAPACITY}: q35, 128 MiB, 1 vCPU, two NICs, the tiny guest`,
  setup:
    "nats-server, one validator, one domain-composer, one launcher as processes; at most C VMIs between apply and Running at a time",
  seconds,
  levels: result.levels,
};

console.log(
  `\ncreates end to end, one launcher, ${vmis} VMIs per level, ` +
    `${result.virtType === "kvm" ? "KVM" : "TCG"}; start: defined and started, until Running; ` +
    "define-only: defined with their room, until the reserved event\n",
);
console.log(
  markdownTable(
    [
      "mode",
      "concurrency",
      "VMIs",
      "all done s",
      "creates/s",
      "per VMI median ms",
      "p95 ms",
      "delete all s",
      "free GiB before → all done",
      "CPU % guests / launcher / libvirtd / others",
      "max load",
    ],
    result.levels.map((l) => [
      l.mode,
      String(l.concurrency),
      String(l.vmis),
      l.seconds.toFixed(1),
      l.createsPerSecond.toFixed(2),
      l.latencyMs.median.toFixed(0),
      l.latencyMs.p95.toFixed(0),
      l.deleteSeconds.toFixed(1),
      `${l.freeMemoryGiB.before} → ${l.freeMemoryGiB.allRunning}`,
      `${l.cpuPercent.guests} / ${l.cpuPercent.launcher} / ${l.cpuPercent.libvirtd} / ${l.cpuPercent.validatorAndComposer}`,
      l.maxLoad1.toFixed(2),
    ]),
  ),
);
console.log(`\ncreates took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
