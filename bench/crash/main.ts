// Crash batch: creates VMIs through the validator API while the validator, the
// composer and the launcher are killed (SIGKILL) at seeded random moments and
// restarted, then checks that every accepted VMI ends Running exactly once
// (one domain named <ns>_<name> with the VMI's uid, no placeholder left, its
// room free, one reserved event) and prints what was created, killed and lost.
//
//   node --import tsx bench/crash/main.ts [--vmis 30] [--seed N] [--kills 40] [--stagger-ms 1000] [--json PATH]
//
// Domains are named crash-<hex>_vmi-<i> and removed at the end, also on failure and Ctrl-C.
import { writeFile } from "node:fs/promises";
import { runCrashBatch, type Stack, startStack, uniqueNamespace } from "@headroom/test-stack";
import { benchArgs, integer, optionalInteger } from "../lib/args.ts";

const args = benchArgs({
  script: "bench/crash/main.ts",
  quick: false,
  json: true,
  flags: {
    vmis: integer(30),
    seed: optionalInteger({ min: 0 }),
    kills: optionalInteger({ min: 0 }),
    "stagger-ms": integer(1000, { min: 0 }),
  },
});
const { vmis } = args;
const seed = args.seed ?? Math.floor(Math.random() * 2 ** 31);
const maxKills = args.kills ?? Math.ceil(vmis * 1.5);
const started = new Date();
const elapsed = () => ((Date.now() - started.getTime()) / 1000).toFixed(1).padStart(6);
const log = (line: string) => console.log(`${elapsed()}s  ${line}`);

console.log(
  `crash batch: ${vmis} VMIs, up to ${maxKills} kills, seed ${seed} (--seed ${seed} replays the kill plan)`,
);
let stack: Stack | undefined;
let interrupted = false;
const onSignal = () => {
  if (interrupted) return;
  interrupted = true;
  log("interrupted; cleaning up");
  void (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

let failed = false;
try {
  // Logins on: every service within the permissions it ships with, as in the crash test.
  stack = await startStack({ namespace: uniqueNamespace("crash") });
  log(`stack up, namespace ${stack.namespace}`);
  const report = await runCrashBatch(stack, {
    vmis,
    seed,
    maxKills,
    staggerMs: args["stagger-ms"],
    settleTimeoutMs: 300_000,
    log,
  });
  const killed = Object.values(report.kills).reduce((a, b) => a + b, 0);
  console.log("");
  console.log(`seed                ${report.seed}`);
  console.log(`VMIs created        ${report.created} (accepted ${report.accepted})`);
  console.log(
    `processes killed    ${killed} (validator ${report.kills.validator}, composer ${report.kills["domain-composer"]}, launcher ${report.kills.launcher})`,
  );
  console.log(`restarts            ${report.restarts}`);
  console.log(`applies retried     ${report.applyRetries}`);
  console.log(
    `lost                ${report.lost.length}${report.lost.length ? ` (${report.lost.join(", ")})` : ""}`,
  );
  console.log(`seconds             ${report.seconds}`);
  for (const problem of report.problems) console.log(`problem: ${problem}`);
  if (args.json) await writeFile(args.json, `${JSON.stringify(report, null, 2)}\n`);
  failed = report.problems.length > 0 || report.accepted !== vmis;
} catch (error) {
  console.error(error);
  failed = true;
} finally {
  if (!interrupted) await stack?.stop();
}
process.exit(failed ? 1 : 0);
