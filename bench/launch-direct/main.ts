// headroom's launch sequence against the alternative the seed design rejected, on the real
// libvirtd, in one process, side by side.
//
//   node --import tsx bench/launch-direct/main.ts [--launches 20] [--quick] [--json PATH]
//
// A — launchDomain, what headroom does: define → read back → add placeholders → define →
//     read back → strip → protect → define → start (plus its existence check and the live XML
//     read after start).
// B — hand-written ports: compose the XML, add bare <controller type='pci'
//     model='pcie-root-port'/> elements to it, define once, start.
// Both: a seed-like q35 domain with one NIC at reserved capacity 8, timed from composition to
// a started domain. B gets as many bare ports as it takes to leave the same number of free
// slots as A (libvirt puts the domain's own devices on bare ports first), found once before
// the timed launches. Launches alternate A B B A … so drift hits both alike. Also times the
// XML-only work of a launch (compose, add, strip, protect, topology) on libvirt's real XML.
import { loadavg } from "node:os";
import { launchDomain } from "@headroom/domain-manager";
import {
  addPlaceholders,
  composeDomain,
  controllersAdded,
  type DomainSpec,
  freeHotplugSlots,
  interfacesOf,
  protectNonNicRootPorts,
  readTopology,
  stripPlaceholders,
} from "@headroom/domain-xml";
import type { Connection } from "@headroom/libvirt";
import { benchArgs, integer } from "../lib/args.ts";
import { type BenchHost, withBenchHost } from "../lib/guest.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { freeSlotsWithPorts, portsForFreeSlots, withRootPorts } from "../lib/root-ports.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const args = benchArgs({
  script: "bench/launch-direct/main.ts",
  json: "bench/results/launch-direct.json",
  flags: { launches: integer({ full: 20, quick: 3 }) },
});
const { quick, launches, json: jsonPath } = args;

const CAPACITY = 8;
const NICS = 1;
const PLACEHOLDERS = CAPACITY - NICS;
const MODEL = "virtio-non-transitional";

async function launchHeadroom(host: BenchHost, spec: DomainSpec) {
  const started = performance.now();
  const result = await launchDomain(host.conn, {
    domainName: spec.name,
    ownerUid: spec.uuid,
    baseXml: composeDomain(spec),
    placeholders: PLACEHOLDERS,
    placeholderModel: MODEL,
  });
  const ms = performance.now() - started;
  return { ms, freeSlots: result.freeSlots.length, liveXml: result.liveXml };
}

async function launchHandWritten(host: BenchHost, spec: DomainSpec, ports: number) {
  const started = performance.now();
  const domain = await host.conn.defineXml(withRootPorts(composeDomain(spec), ports), {
    validate: true,
  });
  await domain.create();
  const ms = performance.now() - started;
  return { ms, domain };
}

/** The XML read back at each define of headroom's flow, for timing the XML work alone. */
async function captureFlowXml(conn: Connection, spec: DomainSpec) {
  const domain = await conn.defineXml(composeDomain(spec));
  try {
    const base = await domain.getXmlDesc({ inactive: true });
    await conn.defineXml(addPlaceholders(base, PLACEHOLDERS, MODEL));
    const reserved = await domain.getXmlDesc({ inactive: true });
    return { base, reserved };
  } finally {
    await domain.undefine();
  }
}

/** Microseconds per call of `work`, median of rounds, after warming up. */
function timeXmlWork(work: () => void, rounds: number, perRound: number): Summary {
  for (let i = 0; i < perRound; i++) work();
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    for (let i = 0; i < perRound; i++) work();
    perCall.push(((performance.now() - started) * 1000) / perRound);
  }
  return summarize(perCall, 1);
}

const wallStarted = performance.now();
const result = await withBenchHost("launch-direct", async (host) => {
  const machine = await describeMachine(host.conn);
  console.log(`launch-direct on ${machineLine(machine)}`);
  console.log(`virtualization: ${host.virtType} (${host.virtTypeReason})`);

  // Calibrate B: enough bare ports for as many free slots as A leaves.
  const probe = await host.seedLikeSpec("q35", NICS);
  const firstA = await launchHeadroom(host, probe);
  await host.remove(probe.name);
  const targetFree = firstA.freeSlots;
  const calibration = await host.seedLikeSpec("q35", NICS);
  const calibrationXml = composeDomain(calibration);
  const { ports, free: freeB } = await portsForFreeSlots(
    host.conn,
    calibrationXml,
    targetFree,
    PLACEHOLDERS,
  );
  const freeWithPlaceholderCount = await freeSlotsWithPorts(
    host.conn,
    calibrationXml,
    PLACEHOLDERS,
  );
  const flowXml = await captureFlowXml(host.conn, calibration);
  await host.remove(calibration.name);
  console.log(
    `A leaves ${targetFree} free slots; B needs ${ports} bare ports for ${freeB} ` +
      `(${PLACEHOLDERS} bare ports leave ${freeWithPlaceholderCount})`,
  );

  const a: number[] = [];
  const b: number[] = [];
  let maxLoad1 = 0;
  for (let i = 0; i < launches; i++) {
    // A B, B A, A B, …: each side goes first half of the time.
    const order = i % 2 === 0 ? ["A", "B"] : ["B", "A"];
    for (const side of order) {
      const spec = await host.seedLikeSpec("q35", NICS);
      try {
        if (side === "A") a.push((await launchHeadroom(host, spec)).ms);
        else b.push((await launchHandWritten(host, spec, ports)).ms);
      } finally {
        await host.remove(spec.name);
      }
    }
    maxLoad1 = Math.max(maxLoad1, loadavg()[0] ?? 0);
    console.log(
      `launch ${i + 1}/${launches}: A ${(a.at(-1) as number).toFixed(0)} ms, ` +
        `B ${(b.at(-1) as number).toFixed(0)} ms`,
    );
  }

  // XML-only work, on the XML libvirt really returned.
  const spec = await host.seedLikeSpec("q35", NICS);
  await host.remove(spec.name);
  const rounds = quick ? 3 : 7;
  const perRound = quick ? 50 : 200;
  const xmlA = timeXmlWork(
    () => {
      composeDomain(spec);
      addPlaceholders(flowXml.base, PLACEHOLDERS, MODEL);
      const stripped = stripPlaceholders(flowXml.reserved).xml;
      const final = protectNonNicRootPorts(stripped);
      controllersAdded(flowXml.base, final);
      freeHotplugSlots(readTopology(firstA.liveXml));
      interfacesOf(firstA.liveXml);
    },
    rounds,
    perRound,
  );
  const xmlB = timeXmlWork(() => withRootPorts(composeDomain(spec), ports), rounds, perRound);

  return {
    machine: finishMachine(machine),
    virtType: host.virtType,
    virtTypeReason: host.virtTypeReason,
    ports,
    freeSlots: { headroom: targetFree, handWritten: freeB },
    a,
    b,
    xmlA,
    xmlB,
    maxLoad1: roundTo(maxLoad1, 2),
  };
});

const a = summarize(result.a, 1);
const b = summarize(result.b, 1);
const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
const report = {
  benchmark: "launch-direct",
  date: new Date().toISOString(),
  command: args.command,
  machine: result.machine,
  virtType: result.virtType,
  virtTypeReason: result.virtTypeReason,
  domain: `q35, 128 MiB, 1 vCPU, ${NICS} user NIC, virtio disk overlay, rng, serial console; reserved capacity ${CAPACITY} (${PLACEHOLDERS} placeholders)`,
  launches,
  seconds,
  maxLoad1: result.maxLoad1,
  headroom: {
    what: "launchDomain: define, read back, add placeholders, define, read back, strip, protect, define, start, read live XML",
    freeSlots: result.freeSlots.headroom,
    ms: a,
    samplesMs: result.a.map((x) => roundTo(x, 1)),
  },
  handWritten: {
    what: `compose, add ${result.ports} bare pcie-root-port controllers, define, start`,
    rootPorts: result.ports,
    freeSlots: result.freeSlots.handWritten,
    ms: b,
    samplesMs: result.b.map((x) => roundTo(x, 1)),
  },
  ratio: { median: roundTo(a.median / b.median, 2), p95: roundTo(a.p95 / b.p95, 2) },
  xmlWorkMicroseconds: {
    headroom: {
      what: "compose, add placeholders, strip, protect, controllers added, topology and interfaces of the live XML",
      ...result.xmlA,
    },
    handWritten: { what: "compose, add bare root ports", ...result.xmlB },
  },
};

console.log(
  `\nq35, capacity ${CAPACITY}, ${launches} launches each; ` +
    `${result.virtType === "kvm" ? "KVM" : "TCG"}\n`,
);
console.log(
  markdownTable(
    ["sequence", "free slots", "median ms", "p95 ms", "min–max ms", "XML work µs (median)"],
    [
      [
        "A: headroom launchDomain (3 defines, start)",
        String(result.freeSlots.headroom),
        a.median.toFixed(0),
        a.p95.toFixed(0),
        `${a.min.toFixed(0)}–${a.max.toFixed(0)}`,
        result.xmlA.median.toFixed(0),
      ],
      [
        `B: ${result.ports} hand-written root ports (1 define, start)`,
        String(result.freeSlots.handWritten),
        b.median.toFixed(0),
        b.p95.toFixed(0),
        `${b.min.toFixed(0)}–${b.max.toFixed(0)}`,
        result.xmlB.median.toFixed(0),
      ],
    ],
  ),
);
console.log(`\nA/B: ${report.ratio.median}× at the median, ${report.ratio.p95}× at p95`);
console.log(`highest 1-minute load average during the launches: ${result.maxLoad1}`);
console.log(`launch-direct took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
