// In-process throughput of the pure work behind the validator and the composer, on one core.
//
//   node --import tsx bench/throughput/main.ts [--rounds 5] [--seconds 1] [--quick] [--json PATH]
//
// validation: validateVmi on the seed example (examples/vmi-seed.yaml), parsed once.
// composition: domainSpecFromVmi + composeDomain of that VMI on a fixed host placement.
// Each is warmed up, then timed in rounds of about --seconds each; the figure is the median
// round, with the slowest and fastest. Targets from the benchmark issue are printed beside
// them; nothing is asserted.
import { readFile } from "node:fs/promises";
import { composeDomain, domainSpecFromVmi, type HostPlacement } from "@headroom/domain-xml";
import { parseDocument, validateVmi } from "@headroom/vmi";
import { benchArgs, integer, positive } from "../lib/args.ts";
import {
  describeMachine,
  finishMachine,
  machineLine,
  repoPath,
  writeResult,
} from "../lib/machine.ts";
import { roundTo, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const args = benchArgs({
  script: "bench/throughput/main.ts",
  json: "bench/results/throughput.json",
  flags: {
    rounds: integer({ full: 5, quick: 3 }),
    seconds: positive({ full: 1, quick: 0.3 }),
  },
});

const { rounds, seconds: roundSeconds, json: jsonPath } = args;

const TARGETS = { validation: 20_000, composition: 5_000 };

const SEED = "examples/vmi-seed.yaml";
const doc = parseDocument(await readFile(repoPath(SEED), "utf8"), SEED);
const accepted = validateVmi(doc);
if (!accepted.valid || accepted.vmi === null) {
  console.error(`${SEED} does not validate: ${JSON.stringify(accepted.errors)}`);
  process.exit(1);
}
const vmi = accepted.vmi;
const placement: HostPlacement = {
  uuid: "6f1c1f4e-8f1e-4d5c-9a57-3f1c7d0e2b11",
  virtType: "qemu",
  domainName: "default_vmi-iface-request-example",
  volumes: {
    containerdisk: { path: "/var/lib/headroom/vmis/example/disk.qcow2", format: "qcow2" },
  },
  kernel: {
    kernelPath: "/var/lib/headroom/images/objects/tiny/root/boot/vmlinuz",
    initrdPath: "/var/lib/headroom/images/objects/tiny/root/boot/initrd.img",
  },
  bridges: { "headroom-bridge": "hrbr0" },
  serialConsoleLogPath: "/var/lib/headroom/vmis/example/console.log",
};

// Results go into this, so the optimizer cannot drop the work.
let sink = 0;
const validate = () => {
  sink += validateVmi(doc).valid ? 1 : 0;
};
const compose = () => {
  sink += composeDomain(domainSpecFromVmi(vmi, placement)).length;
};
// The two halves of a composition, to show where its time goes.
const spec = domainSpecFromVmi(vmi, placement);
const mapOnly = () => {
  sink += domainSpecFromVmi(vmi, placement).vcpus;
};
const xmlOnly = () => {
  sink += composeDomain(spec).length;
};

/** Operations per second in rounds of about `seconds`, after a warm-up round. */
function opsPerSecond(work: () => void): number[] {
  const round = (seconds: number) => {
    let n = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    let now = started;
    while (now < until) {
      // Checking the clock every 100 calls keeps its cost out of the figure.
      for (let i = 0; i < 100; i++) work();
      n += 100;
      now = performance.now();
    }
    return (n * 1000) / (now - started);
  };
  round(roundSeconds); // warm-up: JIT and caches
  return Array.from({ length: rounds }, () => round(roundSeconds));
}

const machine = await describeMachine();
console.log(`throughput on ${machineLine(machine)}`);
console.log(`${rounds} rounds of ${roundSeconds} s after a warm-up round, one core`);
const started = performance.now();
const validation = summarize(opsPerSecond(validate), 0);
const composition = summarize(opsPerSecond(compose), 0);
const mapping = summarize(opsPerSecond(mapOnly), 0);
const xmlWriting = summarize(opsPerSecond(xmlOnly), 0);
const seconds = roundTo((performance.now() - started) / 1000, 1);
if (sink === 0) console.log("(nothing done?)");

const report = {
  benchmark: "throughput",
  date: new Date().toISOString(),
  command: args.command,
  machine: finishMachine(machine),
  input: SEED,
  rounds,
  roundSeconds,
  seconds,
  validationsPerSecond: {
    what: "validateVmi (JSON Schema + rules + normalization) on the parsed seed example",
    target: TARGETS.validation,
    ...validation,
  },
  compositionsPerSecond: {
    what: "domainSpecFromVmi + composeDomain (XML text) on a fixed host placement",
    target: TARGETS.composition,
    ...composition,
    parts: {
      domainSpecFromVmi: mapping,
      composeDomain: xmlWriting,
    },
  },
};

const row = (name: string, s: typeof validation, target?: number) => [
  name,
  s.median.toLocaleString("en-US"),
  `${s.min.toLocaleString("en-US")}–${s.max.toLocaleString("en-US")}`,
  target === undefined ? "" : `≥ ${target.toLocaleString("en-US")}`,
  target === undefined ? "" : `${roundTo(s.median / target, 1)}×`,
];
console.log("");
console.log(
  markdownTable(
    ["work", "per second (median)", "min–max", "target", "median / target"],
    [
      row("validation", validation, TARGETS.validation),
      row("composition", composition, TARGETS.composition),
      row("  of which domainSpecFromVmi alone", mapping),
      row("  of which composeDomain alone", xmlWriting),
    ],
  ),
);
console.log(`\nthroughput took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
