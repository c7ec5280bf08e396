// The README's way in, as a newcomer takes it: `npm start` in the repository
// (setup, then `headroom up`) in one terminal, the headroom commands in
// another, Ctrl-C at the end — and nothing of it left behind: no process, no
// domain. State goes to a private directory and NATS to a private port, so
// the test shares the machine with anything else.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "@headroom/testing";
import { afterAll, describe, expect, it } from "vitest";
import {
  deleteBridge,
  descendantsOf,
  domainsOf,
  type ProcessInfo,
  privateStateDir,
  processes,
  removeDomainsOf,
  testBridge,
  testNamespace,
  writeSeedVmi,
} from "./host.ts";
import { headroom, repoRoot } from "./run.ts";

const namespace = testNamespace();
const bridge = testBridge();
const name = "vmi-iface-request-example";
const BANNER = "headroom is up";
/** Setup may install npm dependencies or build; the tiny guest is built into the new state directory. */
const UP_TIMEOUT_MS = 300_000;

let stateDir = "";
let port = 0;
let npmStart: ChildProcess | undefined;

/** Processes this test's headroom runs: they name its state directory or port, or carry them in their environment. */
function processesOf(dir: string, port: number): ProcessInfo[] {
  const marks = [dir, `127.0.0.1:${port}`, `-p ${port}`];
  return processes().filter((p) => {
    if (p.pid === process.pid) return false;
    if (marks.some((mark) => p.cmdline.includes(mark))) return true;
    try {
      const environ = readFileSync(`/proc/${p.pid}/environ`, "utf8").split("\0");
      return environ.includes(`HEADROOM_STATE_DIR=${dir}`);
    } catch {
      return false;
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
}

afterAll(async () => {
  // Whatever failed: nothing of this test stays, not even nats-server, which
  // `up` runs in a session of its own (outside npm's process group).
  if (npmStart?.pid && npmStart.exitCode === null && npmStart.signalCode === null) {
    try {
      process.kill(-npmStart.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (stateDir) {
    for (const p of processesOf(stateDir, port)) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  await removeDomainsOf(namespace);
  await deleteBridge(bridge);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
}, 60_000);

describe("a newcomer runs npm start, uses headroom from a second terminal, and stops it with Ctrl-C", () => {
  it("works end to end and leaves no process and no domain behind", async () => {
    stateDir = await privateStateDir();
    port = await freePort();
    const url = `nats://127.0.0.1:${port}`;

    // Terminal 1. npm appends the arguments after "--" to the script's last command, `headroom up`.
    const started = Date.now();
    npmStart = spawn("npm", ["start", "--", "--nats-url", url], {
      cwd: repoRoot,
      env: { ...process.env, HEADROOM_STATE_DIR: stateDir, HEADROOM_VIRT_TYPE: "qemu" },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, as a terminal's foreground job: Ctrl-C reaches all of it.
      detached: true,
    });
    let output = "";
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString();
    };
    npmStart.stdout?.on("data", onOutput);
    npmStart.stderr?.on("data", onOutput);
    const exited = exitOf(npmStart);
    const bannerSeen = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "${BANNER}" within ${UP_TIMEOUT_MS} ms:\n${output}`)),
        UP_TIMEOUT_MS,
      );
      const check = () => {
        if (output.includes(BANNER)) {
          clearTimeout(timer);
          resolve();
        }
      };
      npmStart?.stdout?.on("data", check);
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`npm start exited (${code}) before "${BANNER}":\n${output}`));
      });
    });
    await bannerSeen;
    console.info(`npm start: headroom up after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(output).toContain(`NATS      ${url} (started here, store ${join(stateDir, "nats")})`);
    expect(output).toContain("services  validator, domain-composer, launcher\n");
    // setup.sh built the tiny guest into the private state directory's image store.
    expect(existsSync(join(stateDir, "images"))).toBe(true);

    // Terminal 2: what the banner suggests, with this headroom's server.
    const env = { HEADROOM_NATS_URL: url, HEADROOM_STATE_DIR: stateDir };
    const user = (args: string[]) => headroom(["-n", namespace, ...args], env);

    const images = await user(["get", "images"]);
    expect(images.code).toBe(0);
    expect(images.stdout).toMatch(/^headroom\/tiny-guest /m);

    const network = await user(["network", "create", "headroom-bridge", "--bridge", bridge]);
    expect(network.stderr).toBe("");
    expect(network.stdout).toBe(`network/headroom-bridge created (bridge ${bridge})\n`);

    const file = await writeSeedVmi(stateDir, namespace, name);
    const apply = await user(["apply", "-f", file, "--wait", "--timeout", "150s"]);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(new RegExp(`^vmi/${name} Running on `, "m"));

    const add = await user([
      "addinterface",
      name,
      "--name",
      "third",
      "--network",
      "headroom-bridge",
    ]);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(
      new RegExp(
        `^vmi/${name}: interface third attached \\(capacity: 5 requested, 3 in use, \\d+ free\\)\n$`,
      ),
    );

    const events = await user(["events", "--vmi", name]);
    expect(events.code).toBe(0);
    const rows = events.stdout.trimEnd().split("\n").slice(1);
    expect(rows.map((row) => row.split(/\s{3,}/).slice(2, 4))).toEqual([
      ["reserved", "<none>"],
      ["attached", "third"],
    ]);

    const deleted = await user(["delete", "vmi", name, "--wait", "--timeout", "120s"]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`vmi/${name} removed: its domain is gone`);

    // Ctrl-C in terminal 1: SIGINT to its whole process group.
    const running = descendantsOf(npmStart.pid ?? -1);
    expect(running.map((p) => p.cmdline).join("\n")).toMatch(/services\/launcher\/dist\/main\.js/);
    expect(running.map((p) => p.command)).toContain("nats-server");
    process.kill(-(npmStart.pid ?? 0), "SIGINT");
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`npm start still running:\n${output}`)), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    expect(output).toContain("[up] SIGINT: stopping");
    expect(output.trimEnd().endsWith("[up] stopped")).toBe(true);
    // The start script execs `headroom up`, so npm ends as it does: cleanly.
    expect(code).toBe(0);

    expect(running.filter((p) => alive(p.pid))).toEqual([]);
    expect(processesOf(stateDir, port)).toEqual([]);
    expect(await domainsOf(namespace)).toEqual([]);
  }, 600_000);
});
