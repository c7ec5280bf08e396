// What a reserved NIC slot costs: QEMU's memory, boot time and hot-plug time against the
// reserved capacity, on q35 and on pc, with the tiny guest on the real libvirtd.
//
//   node --import tsx bench/slot-cost/main.ts [--runs 5] [--quick] [--json PATH] [--chart PATH]
//
// Each point launches a seed-like domain (128 MiB, 1 vCPU, the tiny guest's virtio disk
// overlay, rng, one user NIC) with launchDomain and max(0, capacity − 1) placeholders, then
// measures: the wall time from the launch call to the guest's first console report and the
// guest's own uptime in that report; QEMU's RSS then; the time to hot-plug one NIC until the
// guest reports it, and libvirt's attach call alone; the controllers added and free slots.
// Runs interleave all points (forward, then backward) so drift spreads over every point.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { dirname } from "node:path";
import { attachNic, launchDomain } from "@headroom/domain-manager";
import { composeDomain, type MachineFamily, nicXml } from "@headroom/domain-xml";
import { waitForGuestReport } from "@headroom/images";
import { benchArgs, integer, integers, someOf, text } from "../lib/args.ts";
import { type BenchHost, withBenchHost } from "../lib/guest.ts";
import {
  describeMachine,
  finishMachine,
  machineLine,
  repoPath,
  writeResult,
} from "../lib/machine.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";
import { type ChartPanel, slotCostChart } from "./chart.ts";

const args = benchArgs({
  script: "bench/slot-cost/main.ts",
  json: "bench/results/slot-cost.json",
  flags: {
    runs: integer({ full: 5, quick: 1 }),
    capacities: integers(
      { full: [0, 1, 2, 4, 8, 16, 24, 32], quick: [0, 8, 32] },
      { min: 0, max: 32 },
    ),
    machines: someOf<MachineFamily>(["q35", "pc"]),
    chart: text(),
  },
});

const NICS = 1;
// A quick run is a smoke test: its figures go to the screen, not over the recorded results.
const { quick, runs, capacities, machines, json: jsonPath } = args;
const chartPath = args.chart ?? (quick ? undefined : repoPath("docs/slot-cost.svg"));

interface Sample {
  run: number;
  machine: MachineFamily;
  capacity: number;
  placeholders: number;
  /** launchDomain: define, reserve, strip, protect, define, start, read live XML. */
  launchMs: number;
  /** From the launch call to the first `headroom-guest:` report on the console. */
  bootMs: number;
  /** The guest's uptime in that first report: its own time to userspace. */
  guestUpS: number;
  qemuRssKiB: number;
  qemuRssAnonKiB: number;
  /** QEMU's RSS again once the hot-plugged NIC is in the guest. */
  qemuRssAfterPlugKiB: number;
  /** attachNic until the guest reports one more NIC. */
  hotplugMs: number;
  /** The attachNic call alone: live attach plus reading and pinning the definition. */
  attachNicMs: number;
  /** libvirt's live attachDevice call alone. */
  attachCallMs: number;
  controllersAdded: number;
  freeSlots: number;
  /** The host's 1-minute load average when the point finished: other work on the machine. */
  load1: number;
}

async function qemuMemory(domainName: string): Promise<{ rss: number; anon: number }> {
  const pid = (await readFile(`/var/run/libvirt/qemu/${domainName}.pid`, "utf8")).trim();
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { rss: kib("VmRSS"), anon: kib("RssAnon") };
}

const POLL_MS = 10;

async function measurePoint(
  host: BenchHost,
  run: number,
  machine: MachineFamily,
  capacity: number,
): Promise<Sample> {
  const spec = await host.seedLikeSpec(machine, NICS);
  const consolePath = spec.serialConsoleLogPath as string;
  const placeholders = Math.max(0, capacity - spec.interfaces.length);
  const baseXml = composeDomain(spec);
  try {
    const started = performance.now();
    const launched = await launchDomain(host.conn, {
      domainName: spec.name,
      ownerUid: spec.uuid,
      baseXml,
      placeholders,
      placeholderModel: "virtio-non-transitional",
    });
    const launchMs = performance.now() - started;
    const first = await waitForGuestReport(consolePath, () => true, {
      timeoutMs: 120_000,
      intervalMs: POLL_MS,
    });
    const bootMs = performance.now() - started;
    const memory = await qemuMemory(spec.name);
    if (first.report.nics !== NICS)
      throw new Error(`the guest saw ${first.report.nics} NICs at boot, not ${NICS}`);

    // Time libvirt's live attach inside attachNic without changing it.
    const { domain } = launched;
    const attachDevice = domain.attachDevice.bind(domain);
    let attachCallMs = Number.NaN;
    domain.attachDevice = async (xml, options) => {
      const before = performance.now();
      await attachDevice(xml, options);
      if (options?.live) attachCallMs = performance.now() - before;
    };
    const plugStarted = performance.now();
    await attachNic(
      domain,
      nicXml({ name: "hot", kind: "pod", model: "virtio-non-transitional" }),
      "ua-net-hot",
    );
    const attachNicMs = performance.now() - plugStarted;
    await waitForGuestReport(consolePath, (r) => r.nics === NICS + 1, {
      after: first.index,
      timeoutMs: 60_000,
      intervalMs: POLL_MS,
    });
    const hotplugMs = performance.now() - plugStarted;
    const afterPlug = await qemuMemory(spec.name);
    return {
      run,
      machine,
      capacity,
      placeholders,
      launchMs: roundTo(launchMs, 1),
      bootMs: roundTo(bootMs, 1),
      guestUpS: first.report.uptimeSeconds,
      qemuRssKiB: memory.rss,
      qemuRssAnonKiB: memory.anon,
      qemuRssAfterPlugKiB: afterPlug.rss,
      hotplugMs: roundTo(hotplugMs, 1),
      attachNicMs: roundTo(attachNicMs, 1),
      attachCallMs: roundTo(attachCallMs, 1),
      controllersAdded: launched.controllersAdded,
      freeSlots: launched.freeSlots.length,
      load1: roundTo(loadavg()[0] ?? 0, 2),
    };
  } finally {
    await host.remove(spec.name);
  }
}

interface PointSummary {
  machine: MachineFamily;
  capacity: number;
  placeholders: number;
  controllersAdded: number;
  freeSlots: number;
  qemuRssMiB: Summary;
  qemuRssAfterPlugMiB: Summary;
  bootS: Summary;
  guestUpS: Summary;
  launchMs: Summary;
  hotplugMs: Summary;
  attachNicMs: Summary;
  attachCallMs: Summary;
}

function summarizePoints(samples: Sample[]): PointSummary[] {
  return machines.flatMap((machine) =>
    capacities.map((capacity) => {
      const at = samples.filter((s) => s.machine === machine && s.capacity === capacity);
      const first = at[0] as Sample;
      return {
        machine,
        capacity,
        placeholders: first.placeholders,
        // The same for every run; the last run's figure stands for all.
        controllersAdded: (at.at(-1) as Sample).controllersAdded,
        freeSlots: (at.at(-1) as Sample).freeSlots,
        qemuRssMiB: summarize(
          at.map((s) => s.qemuRssKiB / 1024),
          1,
        ),
        qemuRssAfterPlugMiB: summarize(
          at.map((s) => s.qemuRssAfterPlugKiB / 1024),
          1,
        ),
        bootS: summarize(
          at.map((s) => s.bootMs / 1000),
          2,
        ),
        guestUpS: summarize(
          at.map((s) => s.guestUpS),
          2,
        ),
        launchMs: summarize(
          at.map((s) => s.launchMs),
          0,
        ),
        hotplugMs: summarize(
          at.map((s) => s.hotplugMs),
          0,
        ),
        attachNicMs: summarize(
          at.map((s) => s.attachNicMs),
          0,
        ),
        attachCallMs: summarize(
          at.map((s) => s.attachCallMs),
          0,
        ),
      };
    }),
  );
}

/** Least-squares slope of y over x: the cost of one more reserved slot. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const wallStarted = performance.now();
const result = await withBenchHost("slot-cost", async (host) => {
  const machine = await describeMachine(host.conn);
  console.log(`slot-cost on ${machineLine(machine)}`);
  console.log(`virtualization: ${host.virtType} (${host.virtTypeReason})`);
  console.log(
    `${runs} run(s) × ${capacities.length} capacities × ${machines.length} machine(s), ${NICS} NIC`,
  );
  const samples: Sample[] = [];
  for (let run = 1; run <= runs; run++) {
    const order = run % 2 === 1 ? capacities : [...capacities].reverse();
    for (const capacity of order) {
      const machineOrder = run % 2 === 1 ? machines : [...machines].reverse();
      for (const machineType of machineOrder) {
        const sample = await measurePoint(host, run, machineType, capacity);
        samples.push(sample);
        console.log(
          `run ${run} ${machineType.padEnd(3)} capacity ${String(capacity).padStart(2)}: ` +
            `boot ${(sample.bootMs / 1000).toFixed(2)} s (guest ${sample.guestUpS} s), ` +
            `RSS ${(sample.qemuRssKiB / 1024).toFixed(1)} MiB, hot-plug ${sample.hotplugMs} ms ` +
            `(attachNic ${sample.attachNicMs} ms, attach call ${sample.attachCallMs} ms), +${sample.controllersAdded} controllers, ` +
            `${sample.freeSlots} free`,
        );
      }
    }
  }
  return {
    machine: finishMachine(machine),
    samples,
    virt: { virtType: host.virtType, virtTypeReason: host.virtTypeReason },
  };
});

const points = summarizePoints(result.samples);
// The cost of one more unit of reservation, as least-squares slopes over the medians: per
// reserved capacity (what the user asks) and per controller libvirt added (what QEMU runs).
const perSlot = machines.map((machine) => {
  const at = points.filter((p) => p.machine === machine);
  const slopeOf = (x: (p: PointSummary) => number, y: (p: PointSummary) => number) =>
    // Fewer than three distinct x values (pc adds one bridge at most) make no line.
    new Set(at.map(x)).size < 3 ? null : slope(at.map((p) => ({ x: x(p), y: y(p) })));
  const rss = (p: PointSummary) => p.qemuRssMiB.median * 1024;
  const rssAfterPlug = (p: PointSummary) => p.qemuRssAfterPlugMiB.median * 1024;
  const boot = (p: PointSummary) => p.bootS.median * 1000;
  const guestUp = (p: PointSummary) => p.guestUpS.median * 1000;
  const perCapacity = (p: PointSummary) => p.capacity;
  const perController = (p: PointSummary) => p.controllersAdded;
  const kib = (x: number | null) => (x === null ? null : Math.round(x));
  const ms = (x: number | null) => (x === null ? null : roundTo(x, 1));
  return {
    machine,
    perCapacity: {
      rssKiB: kib(slopeOf(perCapacity, rss)),
      rssAfterPlugKiB: kib(slopeOf(perCapacity, rssAfterPlug)),
      bootMs: ms(slopeOf(perCapacity, boot)),
      guestUpMs: ms(slopeOf(perCapacity, guestUp)),
    },
    perControllerAdded: {
      rssKiB: kib(slopeOf(perController, rss)),
      rssAfterPlugKiB: kib(slopeOf(perController, rssAfterPlug)),
      bootMs: ms(slopeOf(perController, boot)),
      guestUpMs: ms(slopeOf(perController, guestUp)),
    },
  };
});

const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
const report = {
  benchmark: "slot-cost",
  date: new Date().toISOString(),
  command: args.command,
  machine: result.machine,
  virtType: result.virt.virtType,
  virtTypeReason: result.virt.virtTypeReason,
  domain: `q35 or pc, 128 MiB, 1 vCPU, ${NICS} user NIC (virtio-non-transitional), virtio disk overlay, rng, serial console; placeholders = max(0, capacity − ${NICS})`,
  runs,
  seconds,
  maxLoad1: Math.max(...result.samples.map((s) => s.load1)),
  perSlot,
  points,
  samples: result.samples,
};

const rows = points.map((p) => [
  p.machine,
  String(p.capacity),
  String(p.placeholders),
  `${p.qemuRssMiB.median.toFixed(1)} (${p.qemuRssMiB.min.toFixed(1)}–${p.qemuRssMiB.max.toFixed(1)})`,
  `${p.bootS.median.toFixed(2)} (${p.bootS.min.toFixed(2)}–${p.bootS.max.toFixed(2)})`,
  p.guestUpS.median.toFixed(2),
  String(p.launchMs.median),
  `${p.hotplugMs.median} (${p.hotplugMs.min}–${p.hotplugMs.max})`,
  String(p.attachNicMs.median),
  String(p.attachCallMs.median),
  String(p.controllersAdded),
  String(p.freeSlots),
]);
console.log(
  `\nMedians of ${runs} run(s), (min–max); ${result.virt.virtType === "kvm" ? "KVM" : "TCG"}\n`,
);
console.log(
  markdownTable(
    [
      "machine",
      "capacity",
      "placeholders",
      "QEMU RSS MiB",
      "boot s",
      "guest up= s",
      "launch ms",
      "hot-plug ms",
      "attachNic ms",
      "attach call ms",
      "controllers added",
      "free slots",
    ],
    rows,
  ),
);
console.log("");
for (const s of perSlot) {
  const c = s.perCapacity;
  const k = s.perControllerAdded;
  console.log(
    `${s.machine}: per reserved capacity ${c.rssKiB} KiB RSS (${c.rssAfterPlugKiB} after the plug), ` +
      `${c.bootMs} ms boot (${c.guestUpMs} ms guest-side)` +
      (k.rssKiB === null
        ? ""
        : `; per controller added ${k.rssKiB} KiB RSS (${k.rssAfterPlugKiB}), ${k.bootMs} ms boot ` +
          `(${k.guestUpMs} ms guest-side)`),
  );
}
console.log("(least-squares slopes over the medians)");
console.log(`highest 1-minute load average during the run: ${report.maxLoad1}`);
console.log(`slot-cost took ${seconds} s`);

if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
if (chartPath) {
  const colors: Record<string, string> = { q35: "#1f77b4", pc: "#ff7f0e" };
  const series = (pick: (p: PointSummary) => Summary) =>
    machines.map((machine) => ({
      label: machine === "q35" ? "q35 (pcie-root-port)" : "pc (i440fx, pci-bridge)",
      color: colors[machine] as string,
      points: points
        .filter((p) => p.machine === machine)
        .map((p) => ({ capacity: p.capacity, ...pick(p) })),
    }));
  const panels: ChartPanel[] = [
    { title: "QEMU resident memory", unit: "RSS (MiB)", series: series((p) => p.qemuRssMiB) },
    {
      title: "Launch to first guest report",
      unit: "seconds",
      series: series((p) => p.bootS),
    },
  ];
  const virt = result.virt.virtType === "kvm" ? "KVM" : "TCG";
  const footnote =
    `Medians of ${runs} runs, whiskers min–max; ${virt}, 128 MiB guest, 1 NIC; ` +
    `${result.machine.cpuModel}, ${result.machine.cores} cores; ${report.date.slice(0, 10)}`;
  await mkdir(dirname(chartPath), { recursive: true });
  await writeFile(chartPath, slotCostChart(panels, footnote));
  console.log(`wrote ${chartPath}`);
}
