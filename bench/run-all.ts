// Runs every benchmark in turn, each in its own process so none inherits another's heap or
// JIT state, and says how long each took. `npm run bench` calls this.
//
//   node --import tsx bench/run-all.ts [--quick] [--only slot-cost,throughput,…]
//
// --quick passes --quick to each (a smoke test: figures on the screen, recorded results left
// alone). Without it, each writes bench/results/<name>.json (and slot-cost docs/slot-cost.svg).
// libvirt-memory prints its JSON instead of writing it; this keeps it in
// bench/results/libvirt-memory.json with the machine it ran on.
import { spawn } from "node:child_process";
import { benchArgs, someOf } from "./lib/args.ts";
import {
  describeMachine,
  finishMachine,
  machineLine,
  repoPath,
  writeResult,
} from "./lib/machine.ts";
import { roundTo } from "./lib/stats.ts";
import { markdownTable } from "./lib/table.ts";

const BENCHES = [
  "startup",
  "throughput",
  "validation-nats",
  "image-transfer",
  "registry-pull",
  "registry-boot",
  "launch-direct",
  "handoffs",
  "end-to-end",
  "end-to-end-define-only",
  "scale",
  "slot-cost",
  // Its guests keep both cores busy for a while: after the timing-sensitive ones.
  "creates",
  "cluster",
  "libvirt-memory",
] as const;
type Bench = (typeof BENCHES)[number];

const args = benchArgs({
  script: "bench/run-all.ts",
  flags: { only: someOf(BENCHES) },
});
const selected = BENCHES.filter((name) => args.only.includes(name));

// A run of another benchmark's script with other flags.
const VARIANTS: Partial<Record<Bench, { script: string; flags: string[] }>> = {
  "end-to-end-define-only": { script: "end-to-end", flags: ["--define-only"] },
};

function scriptOf(bench: Bench): string {
  return `bench/${VARIANTS[bench]?.script ?? bench}/main.ts`;
}

function argsOf(bench: Bench): string[] {
  if (bench === "libvirt-memory") return args.quick ? ["--rounds", "1000"] : [];
  const variant = VARIANTS[bench];
  if (variant) {
    const json = args.quick ? [] : ["--json", `bench/results/${bench}.json`];
    return [...variant.flags, ...(args.quick ? ["--quick"] : []), ...json];
  }
  return args.quick ? ["--quick"] : [];
}

let current: ReturnType<typeof spawn> | undefined;
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // The benchmark cleans up its domains on the signal; wait for it, then stop.
    interrupted = true;
    current?.kill(signal);
  });
}

/** Runs one benchmark; its output goes to the terminal, or is returned when `capture`. */
function runBench(bench: Bench, capture: boolean): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", repoPath(scriptOf(bench)), ...argsOf(bench)],
      { cwd: repoPath("."), stdio: ["inherit", capture ? "pipe" : "inherit", "inherit"] },
    );
    current = child;
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      current = undefined;
      resolve({ code: code ?? (signal ? 128 : 1), stdout });
    });
  });
}

/** libvirt-memory prints one JSON document and then a readable line. */
async function keepLibvirtMemory(stdout: string, started: Date): Promise<void> {
  const lines = stdout.trimEnd().split("\n");
  const summary = lines.pop() ?? "";
  console.log(summary);
  if (args.quick) return;
  const report = JSON.parse(lines.join("\n")) as Record<string, unknown>;
  const path = repoPath("bench/results/libvirt-memory.json");
  await writeResult(path, {
    ...report,
    date: started.toISOString(),
    command: "node --import tsx bench/libvirt-memory/main.ts",
    machine: finishMachine(await describeMachine()),
  });
  console.log(`wrote ${path}`);
}

const machine = await describeMachine();
console.log(`benchmarks on ${machineLine(machine)}${args.quick ? " (quick)" : ""}`);
const wallStarted = performance.now();
const ran: { bench: Bench; seconds: number; code: number }[] = [];
for (const bench of selected) {
  if (interrupted) break;
  console.log(`\n=== ${bench} ===`);
  const started = performance.now();
  const startedAt = new Date();
  const capture = bench === "libvirt-memory";
  const { code, stdout } = await runBench(bench, capture);
  if (capture && code === 0) await keepLibvirtMemory(stdout, startedAt);
  else if (capture) process.stdout.write(stdout);
  ran.push({ bench, seconds: roundTo((performance.now() - started) / 1000, 1), code });
}

const total = roundTo((performance.now() - wallStarted) / 1000, 1);
console.log(`\n=== all benchmarks ===`);
console.log(
  markdownTable(
    ["benchmark", "seconds", "result"],
    ran.map((r) => [r.bench, r.seconds.toFixed(1), r.code === 0 ? "ok" : `exit ${r.code}`]),
  ),
);
console.log(`\ntotal ${total} s (${roundTo(total / 60, 1)} min)`);
const failed = ran.some((r) => r.code !== 0);
process.exit(interrupted ? 130 : failed ? 1 : 0);
