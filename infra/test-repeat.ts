// Runs the test suite, or one vitest project, N times in a row and reports
// every test that failed in any run, with the run's seed, the test's time and
// the first lines of its error. For hunting flaky tests:
//
//   npm run test:repeat -- 20 packages/libvirt
//   npm run test:repeat -- 5                    # the whole suite, 5 times
//   npm run test:repeat -- 5 --load packages/cli # with one CPU core kept busy throughout
//
// Each run takes the test files in an order of its own, shuffled by a seed
// (printed, passed to vitest as --sequence.seed), so a test that depends on
// what ran before it shows up; a failure seen once is replayed with
// `npx vitest run --sequence.shuffle.files --sequence.seed=SEED [--project P]`.
// Tests inside a file keep their order (several tell one story step by step).
// Property tests print their own fast-check seed in the error, which the
// report keeps.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const usage =
  "usage: npm run test:repeat -- N [--load] [PROJECT...]   (PROJECT as in vitest.config.ts, e.g. packages/libvirt)";

interface Failure {
  run: number;
  seed: number;
  file: string;
  test: string;
  durationMs: number | undefined;
  error: string;
}

interface AssertionResult {
  fullName: string;
  status: string;
  duration?: number;
  failureMessages?: string[];
}

interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults: AssertionResult[];
}

function parse(): { runs: number; projects: string[]; load: boolean } {
  const parsed = (() => {
    try {
      const options = { load: { type: "boolean" } } as const;
      return parseArgs({ allowPositionals: true, strict: true, options });
    } catch (error) {
      console.error(`${(error as Error).message}\n${usage}`);
      process.exit(2);
    }
  })();
  const [count, ...projects] = parsed.positionals;
  const runs = Number(count);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(usage);
    process.exit(2);
  }
  return { runs, projects, load: parsed.values.load ?? false };
}

/**
 * A process that keeps one CPU core busy (pinned to the last core with
 * taskset when there is one), for runs under load: timing that only holds on
 * an idle machine shows up.
 */
function startLoad(): ChildProcess {
  // Busy, and gone once this process is (checked every few million turns).
  const spin =
    "const parent = process.ppid; for (let n = 1; ; n++) if (n % 5e6 === 0) " +
    "try { process.kill(parent, 0); } catch { process.exit(0); }";
  const busy = [process.execPath, "-e", spin];
  const pinned = spawnSync("taskset", ["--version"]).error === undefined;
  const core = String(Math.max(0, availableParallelism() - 1));
  const hog = pinned
    ? spawn("taskset", ["-c", core, ...busy], { stdio: "ignore" })
    : spawn(busy[0] as string, busy.slice(1), { stdio: "ignore" });
  console.log(
    `test:repeat: under load: pid ${hog.pid} keeps ${pinned ? `core ${core}` : "one core"} busy`,
  );
  return hog;
}

/** The first lines of an error, enough to tell failures apart; fast-check's seed line kept. */
function summary(message: string): string {
  const lines = message.split("\n").filter((line) => line.trim() !== "");
  const seed = lines.find((line) => /seed/i.test(line) && !/^\s+at /.test(line));
  const head = lines.slice(0, 3);
  if (seed !== undefined && !head.includes(seed)) head.push(seed);
  return head.join("\n      ");
}

function failuresOf(report: { testResults: FileResult[] }, run: number, seed: number): Failure[] {
  const failures: Failure[] = [];
  for (const file of report.testResults) {
    const failed = file.assertionResults.filter((test) => test.status === "failed");
    for (const test of failed) {
      failures.push({
        run,
        seed,
        file: file.name,
        test: test.fullName,
        durationMs: test.duration,
        error: summary((test.failureMessages ?? []).join("\n")),
      });
    }
    // A file can fail outside any test (a hook, an import): report it too.
    if (file.status === "failed" && failed.length === 0) {
      failures.push({
        run,
        seed,
        file: file.name,
        test: "(file)",
        durationMs: undefined,
        error: summary(file.message ?? "failed outside any test"),
      });
    }
  }
  return failures;
}

/** The vitest run in progress, stopped with this process. */
let current: ChildProcess | undefined;

async function runOnce(
  run: number,
  runs: number,
  projects: string[],
  dir: string,
): Promise<Failure[]> {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const output = join(dir, `run-${run}.json`);
  const args = ["vitest", "run", "--sequence.shuffle.files", `--sequence.seed=${seed}`];
  args.push("--reporter=dot", "--reporter=json");
  args.push(`--outputFile.json=${output}`);
  for (const project of projects) args.push("--project", project);
  const started = Date.now();
  console.log(`test:repeat: run ${run}/${runs}, seed ${seed}`);
  const result = await new Promise<{ status: number | null; signal: string | null }>((resolve) => {
    current = spawn("npx", args, { stdio: "inherit" });
    current.once("exit", (status, signal) => resolve({ status, signal }));
  });
  current = undefined;
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  let report: { testResults: FileResult[]; numPassedTests: number; numFailedTests: number };
  try {
    report = JSON.parse(readFileSync(output, "utf8"));
  } catch {
    const error = `vitest exited ${result.status ?? result.signal} without a report`;
    return [{ run, seed, file: "(vitest)", test: "(run)", durationMs: undefined, error }];
  }
  const failures = failuresOf(report, run, seed);
  console.log(
    `test:repeat: run ${run}/${runs}: ${report.numPassedTests} passed, ${report.numFailedTests} failed in ${seconds} s`,
  );
  if (result.status !== 0 && failures.length === 0) {
    const error = `vitest exited ${result.status ?? result.signal} with no failed test`;
    failures.push({ run, seed, file: "(vitest)", test: "(run)", durationMs: undefined, error });
  }
  return failures;
}

function report(failures: Failure[], runs: number): void {
  const byTest = new Map<string, Failure[]>();
  for (const failure of failures) {
    const key = `${failure.file} > ${failure.test}`;
    byTest.set(key, [...(byTest.get(key) ?? []), failure]);
  }
  const failedRuns = new Set(failures.map((failure) => failure.run)).size;
  console.log(`\ntest:repeat: ${runs - failedRuns} of ${runs} runs passed`);
  for (const [key, seen] of byTest) {
    console.log(`\nFAILED ${seen.length}/${runs}: ${key}`);
    for (const failure of seen) {
      const took =
        failure.durationMs === undefined ? "" : `, after ${failure.durationMs.toFixed(0)} ms`;
      console.log(`  run ${failure.run} (seed ${failure.seed}${took}):\n      ${failure.error}`);
    }
  }
}

const { runs, projects, load } = parse();
const dir = mkdtempSync(join(tmpdir(), "headroom-test-repeat-"));
const hog = load ? startLoad() : undefined;
// Stopped from outside (Ctrl-C): the busy process goes too.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    hog?.kill("SIGKILL");
    current?.kill(signal);
    process.exit(130);
  });
try {
  const failures: Failure[] = [];
  for (let run = 1; run <= runs; run++) failures.push(...(await runOnce(run, runs, projects, dir)));
  report(failures, runs);
  process.exitCode = failures.length === 0 ? 0 : 1;
} finally {
  hog?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
