// headroom through its services against the same libvirt work done directly, on the real
// libvirtd, side by side.
//
//   node --import tsx bench/end-to-end/main.ts [--launches 15] [--define-only] [--quick] [--json PATH]
//
// A — through the services: nats-server, validator, domain-composer and launcher as child
//     processes (@headroom/test-stack). Timed from sending the apply request to the launcher's
//     status write with phase Running arriving here (a NATS subscription, no polling). Each
//     VMI is deleted through the API afterwards and the run waits for its released event.
// B — direct: launchDomain (@headroom/domain-manager) in this process on the XML the composer
//     planned for A (name, UUID, disk and console paths changed), from the call to its return.
// C — hand-written root ports: the same XML plus bare pcie-root-port controllers, one
//     define and start; as many ports as it takes to leave B's free slots.
// The VMI is the seed example (two NICs, tiny guest) with kubevirt.io/interface 8 on q35;
// the virtualization type is chooseVirtType's. Sides rotate through all six orders.
// A's time is split at the messages the services publish on the way, and at the launcher's
// log line that ends launchDomain.
import { loadavg } from "node:os";
import { ensureBridge, ensureDiskFile, launchDomain } from "@headroom/domain-manager";
import { type NicModel, withVirtType } from "@headroom/domain-xml";
import { domainNameOf } from "@headroom/host-state";
import { detectDiskFormat, openImageStore } from "@headroom/images";
import type { DomainPlan } from "@headroom/proto";
import { type Stack, startStack } from "@headroom/test-stack";
import { DOMParser, type Element, XMLSerializer } from "@xmldom/xmldom";
import { benchArgs, integer, toggle } from "../lib/args.ts";
import { type BenchHost, withBenchHost } from "../lib/guest.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { portsForFreeSlots, withRootPorts } from "../lib/root-ports.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";
import { type PipelineWatch, watchPipeline } from "../lib/watch.ts";

const args = benchArgs({
  script: "bench/end-to-end/main.ts",
  json: "bench/results/end-to-end.json",
  flags: { launches: integer({ full: 15, quick: 3 }), "define-only": toggle() },
});
const { launches, "define-only": defineOnly, json: jsonPath } = args;
// With --define-only nothing starts: A's launcher runs with HEADROOM_LAUNCHER_DEFINE_ONLY and
// is timed to its reserved event, B is launchDomain({ start: false }), C a define alone. No
// guest boots, so what is left is the control plane, without TCG's noise.
const DONE_STAGE = defineOnly ? "reserved" : "running";
const DONE = defineOnly ? "reserved" : "Running";
const DONE_LINE = defineOnly ? '"domain defined, not started"' : '"domain running"';

const CAPACITY = 8;
const ORDERS = [
  ["A", "B", "C"],
  ["B", "C", "A"],
  ["C", "A", "B"],
  ["A", "C", "B"],
  ["C", "B", "A"],
  ["B", "A", "C"],
] as const;
type Side = "A" | "B" | "C";

/** A's marks, ms after the apply request was sent. */
interface Marks {
  accepted: number;
  reply: number;
  scheduled: number;
  plan: number;
  launchDone: number;
  reserved: number;
  running: number;
  /** From the delete request to the released event. */
  deleteToReleased: number;
}

/** The planned XML with another domain's identity and files, for B and C. */
function retarget(xml: string, name: string, uuid: string, disk: string, consoleLog: string) {
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  const first = (tag: string) => {
    const element = doc.getElementsByTagName(tag)[0] as Element | undefined;
    if (!element) throw new Error(`the planned domain has no <${tag}>`);
    return element;
  };
  first("name").textContent = name;
  first("uuid").textContent = uuid;
  const source = first("disk").getElementsByTagName("source")[0];
  if (!source?.getAttribute("file")) throw new Error("the planned disk has no source file");
  source.setAttribute("file", disk);
  for (const log of Array.from(doc.getElementsByTagName("log")))
    log.setAttribute("file", consoleLog);
  return new XMLSerializer().serializeToString(doc);
}

/** The time (epoch ms) of the launcher's "domain running" line for a domain. */
function launchDoneAt(launcherLogs: string, domain: string): number | undefined {
  const lines = launcherLogs.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (!line.includes(DONE_LINE) || !line.includes(`"${domain}"`)) continue;
    const parsed = JSON.parse(line) as { time?: number; domain?: string };
    if (parsed.domain === domain) return parsed.time;
  }
  return undefined;
}

async function throughServices(stack: Stack, watch: PipelineWatch, name: string) {
  const manifest = await stack.seedManifest(name, { request: CAPACITY });
  const started = performance.now();
  const reply = await stack.apply(manifest);
  const replied = performance.now();
  const uid = reply.accepted?.uid;
  if (!uid) throw new Error(`apply of ${name} not accepted: ${JSON.stringify(reply.toJSON())}`);
  const running = await watch.next(name, DONE_STAGE, uid);
  const at = async (stage: Parameters<PipelineWatch["next"]>[1]) =>
    (await watch.next(name, stage, uid, 10_000)).at - started;
  const domain = domainNameOf(stack.namespace, name);
  const doneEpoch = launchDoneAt(stack.service("launcher").logs(), domain);
  const plan = (await watch.next(name, "plan", uid)).plan as DomainPlan;
  const marks: Omit<Marks, "deleteToReleased"> = {
    accepted: await at("accepted"),
    reply: replied - started,
    scheduled: await at("scheduled"),
    plan: await at("plan"),
    launchDone: doneEpoch === undefined ? Number.NaN : doneEpoch - performance.timeOrigin - started,
    reserved: await at("reserved"),
    running: running.at - started,
  };
  const deleting = performance.now();
  const deleted = await stack.delete(name);
  if (!deleted.deleted) throw new Error(`delete of ${name}: ${deleted.message}`);
  const released = await watch.next(name, "released", uid);
  if (await stack.conn.findDomain(domain)) throw new Error(`${domain} still defined after release`);
  return {
    ms: running.at - started,
    marks: { ...marks, deleteToReleased: released.at - deleting },
    plan,
  };
}

interface Planned {
  xml: string;
  placeholders: number;
  model: NicModel;
  disk: { backingPath: string; backingFormat: string };
  bridge: string;
}

async function directSpec(host: BenchHost, planned: Planned) {
  const spec = await host.seedLikeSpec("q35", 2);
  const disk = spec.disks[0]?.sourceFile as string;
  const xml = retarget(planned.xml, spec.name, spec.uuid, disk, spec.serialConsoleLogPath ?? "");
  return { name: spec.name, uuid: spec.uuid, disk, xml };
}

async function direct(host: BenchHost, planned: Planned) {
  const spec = await directSpec(host, planned);
  // What the launcher does on the host before launchDomain, timed apart.
  const prepStarted = performance.now();
  await ensureDiskFile({ path: spec.disk.replace(/\.qcow2$/, "-prep.qcow2"), ...planned.disk });
  await ensureBridge(host.conn, planned.bridge);
  const prepMs = performance.now() - prepStarted;
  try {
    const started = performance.now();
    const result = await launchDomain(host.conn, {
      domainName: spec.name,
      ownerUid: spec.uuid,
      baseXml: spec.xml,
      placeholders: planned.placeholders,
      placeholderModel: planned.model,
      start: !defineOnly,
    });
    const ms = performance.now() - started;
    const removing = performance.now();
    await host.remove(spec.name);
    const removeMs = performance.now() - removing;
    return { ms, prepMs, removeMs, freeSlots: result.freeSlots.length };
  } finally {
    await host.remove(spec.name);
  }
}

async function handWritten(host: BenchHost, planned: Planned, ports: number) {
  const spec = await directSpec(host, planned);
  try {
    const started = performance.now();
    const domain = await host.conn.defineXml(withRootPorts(spec.xml, ports), { validate: true });
    if (!defineOnly) await domain.create();
    return performance.now() - started;
  } finally {
    await host.remove(spec.name);
  }
}

const wallStarted = performance.now();
const result = await withBenchHost("end-to-end", async (host) => {
  const machine = await describeMachine(host.conn);
  console.log(`end-to-end on ${machineLine(machine)}`);
  console.log(`virtualization: ${host.virtType} (${host.virtTypeReason})`);
  const namespace = `${host.namePrefix}ns`;
  // No logins: the watch subscribes to the services' own subjects, which no user may.
  const stack = await startStack({
    namespace,
    logins: false,
    env: {
      HEADROOM_VIRT_TYPE: host.virtType,
      ...(defineOnly ? { HEADROOM_LAUNCHER_DEFINE_ONLY: "1" } : {}),
    },
  });
  host.onClose(() => stack.stop());
  const watch = await watchPipeline(stack.nc, namespace);
  console.log(
    `${defineOnly ? "define-only; " : ""}stack up: nats-server, validator, domain-composer, launcher; namespace ${namespace}`,
  );

  // Warm-up: the services' first request, and the plan B and C launch.
  const warm = await throughServices(stack, watch, "warm-up");
  const plan = warm.plan;
  const disk = plan.diskFiles[0];
  if (!disk?.image) throw new Error("the plan has no disk overlay");
  // The direct sequence overlays the same disk the launcher found in the host's store.
  const backingPath = await openImageStore(stack.state.images).diskOf(disk.image);
  const planned: Planned = {
    xml: withVirtType(plan.domainXml, host.virtType),
    placeholders: plan.placeholderCount,
    model: plan.placeholderModel as NicModel,
    disk: { backingPath, backingFormat: await detectDiskFormat(backingPath) },
    bridge: plan.bridges[0] as string,
  };
  const firstB = await direct(host, planned);
  const calibration = await directSpec(host, planned);
  const { ports, free: freeC } = await portsForFreeSlots(
    host.conn,
    calibration.xml,
    firstB.freeSlots,
    planned.placeholders,
  );
  await host.remove(calibration.name);
  console.log(
    `plan: ${planned.placeholders} placeholders; B leaves ${firstB.freeSlots} free slots, ` +
      `C needs ${ports} bare ports for ${freeC}`,
  );
  await handWritten(host, planned, ports);

  const samples: Record<Side, number[]> = { A: [], B: [], C: [] };
  const marks: Marks[] = [];
  const prep: number[] = [];
  const removals: number[] = [];
  let maxLoad1 = 0;
  for (let i = 0; i < launches; i++) {
    for (const side of ORDERS[i % ORDERS.length] as readonly Side[]) {
      if (side === "A") {
        const a = await throughServices(stack, watch, `vmi-${i}`);
        samples.A.push(a.ms);
        marks.push(a.marks);
      } else if (side === "B") {
        const b = await direct(host, planned);
        samples.B.push(b.ms);
        prep.push(b.prepMs);
        removals.push(b.removeMs);
      } else {
        samples.C.push(await handWritten(host, planned, ports));
      }
    }
    maxLoad1 = Math.max(maxLoad1, loadavg()[0] ?? 0);
    const last = (side: Side) => (samples[side].at(-1) as number).toFixed(0);
    console.log(
      `round ${i + 1}/${launches}: A ${last("A")} ms, B ${last("B")} ms, C ${last("C")} ms`,
    );
  }
  await watch.close();
  return {
    machine: finishMachine(machine),
    virtType: host.virtType,
    virtTypeReason: host.virtTypeReason,
    placeholders: planned.placeholders,
    ports,
    freeSlots: { direct: firstB.freeSlots, handWritten: freeC },
    samples,
    marks,
    prep,
    removals,
    maxLoad1: roundTo(maxLoad1, 2),
  };
});

const a = summarize(result.samples.A, 1);
const b = summarize(result.samples.B, 1);
const c = summarize(result.samples.C, 1);
const paired = summarize(
  result.samples.A.map((x, i) => x - (result.samples.B[i] as number)),
  1,
);
const stage = (pick: (m: Marks) => number) => summarize(result.marks.map(pick), 1);
const split = {
  validator: {
    what: "apply request sent → VmiAccepted published (parse, validate, KV create, publish)",
    ...stage((m) => m.accepted),
  },
  applyReply: { what: "apply request sent → apply reply received", ...stage((m) => m.reply) },
  composer: {
    what: "VmiAccepted → DomainPlan published (fetch, KV read, compose, publish)",
    ...stage((m) => m.plan - m.accepted),
  },
  launcher: {
    what: "DomainPlan → launchDomain returned in the launcher (fetch, KV reads, Scheduled status, disk overlay, bridge, launchDomain); from its log line, whole ms",
    ...stage((m) => m.launchDone - m.plan),
  },
  report: {
    what: "launchDomain returned → status Running (reserved event published, status put)",
    ...stage((m) => m.running - m.launchDone),
  },
  reservedToRunning: {
    what: "reserved capacity event → status Running",
    ...stage((m) => m.running - m.reserved),
  },
  deleteToReleased: {
    what: "delete request sent → released capacity event (not in A's time)",
    ...stage((m) => m.deleteToReleased),
  },
};
const prep = summarize(result.prep, 1);
const removal = summarize(result.removals, 1);
const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
const overhead = roundTo(a.median - b.median, 1);

const report = {
  benchmark: "end-to-end",
  date: new Date().toISOString(),
  command: args.command,
  machine: result.machine,
  virtType: result.virtType,
  virtTypeReason: result.virtTypeReason,
  vmi: `examples/vmi-seed.yaml with kubevirt.io/interface ${CAPACITY}: q35, 128 MiB, 1 vCPU, a masquerade and a bridged NIC, virtio disk overlay, rng, serial console (${result.placeholders} placeholders)`,
  launches,
  seconds,
  maxLoad1: result.maxLoad1,
  headroom: {
    what: "apply request → status Running, through nats-server, validator, domain-composer and launcher processes",
    ms: a,
    samplesMs: result.samples.A.map((x) => roundTo(x, 1)),
    split,
  },
  direct: {
    what: "launchDomain in one process on the planned XML (3 defines, start, live XML read)",
    freeSlots: result.freeSlots.direct,
    ms: b,
    samplesMs: result.samples.B.map((x) => roundTo(x, 1)),
    hostPrepMs: {
      what: "qemu-img overlay + bridge check, as the launcher does before launchDomain (not in B's time)",
      ...prep,
    },
    removeMs: {
      what: "removeDomain (destroy, undefine) and the disk file, directly (not in B's time)",
      ...removal,
    },
  },
  handWritten: {
    what: `the planned XML plus ${result.ports} bare pcie-root-port controllers, one define, start`,
    rootPorts: result.ports,
    freeSlots: result.freeSlots.handWritten,
    ms: c,
    samplesMs: result.samples.C.map((x) => roundTo(x, 1)),
  },
  ratio: {
    headroomToDirect: { median: roundTo(a.median / b.median, 2), p95: roundTo(a.p95 / b.p95, 2) },
    headroomToHandWritten: {
      median: roundTo(a.median / c.median, 2),
      p95: roundTo(a.p95 / c.p95, 2),
    },
    directToHandWritten: {
      median: roundTo(b.median / c.median, 2),
      p95: roundTo(b.p95 / c.p95, 2),
    },
  },
  overheadMs: {
    what: "median(A) − median(B): what headroom's services add over the direct sequence; target < 10 ms",
    target: 10,
    medianDifference: overhead,
    pairedDifference: paired,
  },
};

const row = (label: string, s: Summary, free: string) => [
  label,
  free,
  s.median.toFixed(0),
  s.p95.toFixed(0),
  `${s.min.toFixed(0)}–${s.max.toFixed(0)}`,
];
console.log(
  `\nseed VMI, q35, capacity ${CAPACITY}, ${launches} launches each; ` +
    `${result.virtType === "kvm" ? "KVM" : "TCG"}\n`,
);
console.log(
  markdownTable(
    ["side", "free slots", "median ms", "p95 ms", "min–max ms"],
    [
      row(`A: headroom services, apply → ${DONE}`, a, "—"),
      row("B: launchDomain direct, same XML", b, String(result.freeSlots.direct)),
      row(
        `C: ${result.ports} hand-written root ports (1 define, start)`,
        c,
        String(result.freeSlots.handWritten),
      ),
    ],
  ),
);
console.log(
  `\nA/B ${report.ratio.headroomToDirect.median}× at the median (${report.ratio.headroomToDirect.p95}× at p95), ` +
    `A/C ${report.ratio.headroomToHandWritten.median}×, B/C ${report.ratio.directToHandWritten.median}×`,
);
console.log(
  `headroom adds ${overhead} ms at the median over the direct sequence ` +
    `(median of paired differences ${paired.median} ms; target < 10 ms)\n`,
);
console.log(
  markdownTable(
    ["A, split", "median ms", "p95 ms"],
    [
      ["request → VmiAccepted (validator)", split.validator],
      ["request → apply reply", split.applyReply],
      ["VmiAccepted → DomainPlan (composer)", split.composer],
      ["DomainPlan → launchDomain returned (launcher)", split.launcher],
      [`launchDomain returned → ${DONE}`, split.report],
      ["  of which reserved event → status Running", split.reservedToRunning],
      ["(B: launchDomain alone)", b],
      ["(host prep: overlay + bridge, measured here)", prep],
      ["(delete request → released, not in A)", split.deleteToReleased],
      ["(B: destroy + undefine directly, not in B)", removal],
    ].map(([label, s]) => [
      label as string,
      (s as Summary).median.toFixed(1),
      (s as Summary).p95.toFixed(1),
    ]),
  ),
);
console.log(`\nhighest 1-minute load average during the launches: ${result.maxLoad1}`);
console.log(`end-to-end took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
