// How soon headroom's own processes are ready, against bare node:
//
//   node --import tsx bench/startup/main.ts [--runs 20] [--restarts 5] [--quick] [--json PATH]
//
// CLI: `node -e 0`, `headroom --help` and `headroom get vmi` (against a running validator,
// logged in as the client user), interleaved run by run so machine noise hits each alike;
// the figure is each one's wall time over bare node at the median.
// Launcher restart: the launcher is SIGKILLed and started again (`node
// services/launcher/dist/main.js`, as `headroom up` runs it), timed from the start to its
// first answer to $SRV.PING; the KVM check's result is already kept for this boot.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { SERVICE_NAMES, SERVICE_USERS, userEnv } from "@headroom/bus";
import { startStack } from "@headroom/test-stack";
import { benchArgs, integer } from "../lib/args.ts";
import {
  describeMachine,
  finishMachine,
  machineLine,
  repoPath,
  writeResult,
} from "../lib/machine.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const args = benchArgs({
  script: "bench/startup/main.ts",
  json: "bench/results/startup.json",
  flags: {
    runs: integer({ full: 20, quick: 5 }),
    restarts: integer({ full: 5, quick: 2 }),
  },
});

const TARGETS = { cliOverNodeMs: 150, launcherRestartMs: 1000 };
const BIN = repoPath("packages/cli/bin/headroom.js");

/** Wall time of one process run to its exit, in ms; a failed run stops the benchmark. */
function timed(argv: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const run = spawnSync(process.execPath, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = performance.now() - started;
  if (run.status !== 0)
    throw new Error(`node ${argv.join(" ")} exited ${run.status}: ${run.stderr}`);
  return ms;
}

const machine = await describeMachine();
console.log(`startup on ${machineLine(machine)}`);
const stack = await startStack({ services: ["validator", "launcher"], tinyGuest: true });
let launcher: ChildProcess | undefined;
try {
  const env = { ...process.env, ...stack.clientEnv };
  const commands = {
    node: ["-e", "0"],
    help: [BIN, "--help"],
    getVmi: [BIN, "get", "vmi", "-n", stack.namespace],
  };
  const times: Record<keyof typeof commands, number[]> = { node: [], help: [], getVmi: [] };
  for (const argv of Object.values(commands)) timed(argv, env); // warm-up: disk cache
  for (let run = 0; run < args.runs; run++) {
    for (const [name, argv] of Object.entries(commands)) {
      times[name as keyof typeof commands].push(timed(argv, env));
    }
  }
  const cli = Object.fromEntries(
    Object.entries(times).map(([name, ms]) => [name, summarize(ms, 1)]),
  ) as Record<keyof typeof commands, Summary>;
  const overNode = (s: Summary) => roundTo(s.median - cli.node.median, 1);

  // The stack's launcher ran the KVM check for this boot; the restarts read its result.
  const launcherEnv = {
    ...process.env,
    HEADROOM_NATS_URL: stack.natsUrl,
    HEADROOM_STATE_DIR: stack.stateDir,
    ...(stack.credentials ? userEnv(stack.credentials, SERVICE_USERS.launcher) : {}),
  };
  await stack.kill("launcher");
  const nc = stack.nc;
  const answers = () =>
    nc.request(`$SRV.PING.${SERVICE_NAMES.launcher}`, undefined, { timeout: 200 }).then(
      () => true,
      () => false,
    );
  const restarts: number[] = [];
  for (let i = 0; i <= args.restarts; i++) {
    launcher?.kill("SIGKILL");
    if (launcher) await new Promise((resolve) => launcher?.once("exit", resolve));
    const started = performance.now();
    launcher = spawn(process.execPath, [repoPath("services/launcher/dist/main.js")], {
      env: launcherEnv,
      stdio: "ignore",
    });
    while (!(await answers())) await new Promise((resolve) => setTimeout(resolve, 10));
    // The first start after the stack's own launcher is a restart too, but with a cold cache.
    if (i > 0) restarts.push(performance.now() - started);
  }
  const restart = summarize(restarts, 0);

  const report = {
    benchmark: "startup",
    date: new Date().toISOString(),
    command: args.command,
    machine: finishMachine(machine),
    cli: {
      what: "wall time of one process to its exit, interleaved, median of runs",
      runs: args.runs,
      node: cli.node,
      help: { ...cli.help, overNodeMs: overNode(cli.help) },
      getVmi: { ...cli.getVmi, overNodeMs: overNode(cli.getVmi) },
      targetOverNodeMs: TARGETS.cliOverNodeMs,
    },
    launcherRestart: {
      what: "SIGKILL, start node services/launcher/dist/main.js, first $SRV.PING answer",
      ...restart,
      targetMs: TARGETS.launcherRestartMs,
    },
  };
  console.log("");
  console.log(
    markdownTable(
      ["what", "median", "range", "over node", "target"],
      [
        ["node -e 0", `${cli.node.median} ms`, `${cli.node.min}–${cli.node.max} ms`, "", ""],
        [
          "headroom --help",
          `${cli.help.median} ms`,
          `${cli.help.min}–${cli.help.max} ms`,
          `+${overNode(cli.help)} ms`,
          `≤ +${TARGETS.cliOverNodeMs} ms`,
        ],
        [
          "headroom get vmi",
          `${cli.getVmi.median} ms`,
          `${cli.getVmi.min}–${cli.getVmi.max} ms`,
          `+${overNode(cli.getVmi)} ms`,
          `≤ +${TARGETS.cliOverNodeMs} ms`,
        ],
        [
          `launcher restart (${restarts.length}×)`,
          `${restart.median} ms`,
          `${restart.min}–${restart.max} ms`,
          "",
          `< ${TARGETS.launcherRestartMs} ms`,
        ],
      ],
    ),
  );
  if (args.json) await writeResult(args.json, report);
} finally {
  launcher?.kill("SIGKILL");
  await stack.stop();
}
