// headroom logs through NATS: a real nats-server under headroom.conf, the
// validator storing the VMIs, the composer placing them on the one host, and
// that host's launcher serving their console logs. No guest runs (the
// launcher only defines domains): the tests write the console file where the
// launcher finds it, and the CLI has only its NATS login (no state directory
// of its own).
import { appendFile, mkdir, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { useStack } from "@headroom/test-stack/vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { testNamespace } from "./host.ts";
import { headroom, start } from "./run.ts";

const namespace = testNamespace();
const stack = useStack({
  namespace,
  env: { HEADROOM_VIRT_TYPE: "qemu", HEADROOM_LAUNCHER_DEFINE_ONLY: "1" },
});
/** The server, the client login from the environment, a state directory that does not exist. */
let env: Record<string, string> = {};
const cli = ["--state-dir", "/nonexistent/headroom", "-n", namespace];
let consoleLog = "";

beforeAll(async () => {
  env = stack.clientEnv;
  for (const name of ["web", "fresh"]) {
    const applied = await stack.apply(await stack.seedManifest(name));
    expect(applied.rejected?.errors ?? []).toEqual([]);
  }
  // logs asks the VMI's host: wait until both are placed.
  for (const name of ["web", "fresh"]) {
    const deadline = Date.now() + 30_000;
    while (!(await stack.get(name)).vmi?.node) {
      if (Date.now() > deadline) throw new Error(`${name} was never placed`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  consoleLog = stack.state.consoleLog(namespace, "web");
  await mkdir(dirname(consoleLog), { recursive: true });
  await writeFile(consoleLog, "line 1\nline 2\nline 3\n");
}, 60_000);

function hc(args: string[]) {
  return headroom([...cli, ...args], env);
}

describe("headroom logs", () => {
  it("prints the VMI's console log, asked of its host over NATS", async () => {
    const run = await hc(["logs", "web"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("line 1\nline 2\nline 3\n");
  });

  it("prints the last lines with --tail", async () => {
    const run = await hc(["logs", "web", "--tail", "2"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("line 2\nline 3\n");
    const huge = await hc(["logs", "web", "--tail", "1000000000"]);
    expect(huge.stdout).toBe("line 1\nline 2\nline 3\n");
  });

  it("prints a log larger than one reply whole", async () => {
    const big = stack.state.consoleLog(namespace, "fresh");
    const line = `${"b".repeat(99)}\n`;
    await mkdir(dirname(big), { recursive: true });
    await writeFile(big, line.repeat(6000));
    try {
      const run = await hc(["logs", "fresh"]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(line.repeat(6000));
    } finally {
      await rename(big, `${big}.aside`);
    }
  });

  it("follows what is appended, shows control characters, and ends on SIGINT with exit 0", async () => {
    const follow = start([...cli, "logs", "web", "-f", "--tail", "1"], env);
    await follow.waitForOutput("line 3\n");
    await appendFile(consoleLog, "line 4\n");
    await follow.waitForOutput("line 4\n", 10_000);
    await appendFile(consoleLog, "clear\x1b[2Jscreen\n");
    await follow.waitForOutput("screen\n", 10_000);
    // A new boot writes a new file: followed from its start.
    await writeFile(`${consoleLog}.new`, "boot 2\n");
    await rename(`${consoleLog}.new`, consoleLog);
    await follow.waitForOutput("boot 2\n", 10_000);
    follow.child.kill("SIGINT");
    const run = await follow.done;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("line 3\nline 4\nclear\\x1b[2Jscreen\nboot 2\n");
  });

  it("exits 1 for a VMI headroom does not store, or one that has not started", async () => {
    const absent = await hc(["logs", "absent"]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toBe(`headroom: vmi ${namespace}/absent not found\n`);
    const fresh = await hc(["logs", "fresh"]);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(
      /^headroom: vmi\/fresh has no console log yet on host \S+: it has not started\n$/,
    );
  });

  it("exits 1 for a VMI no host can run yet, with the reason; -f waits for it", async () => {
    const vmi = await stack.seedManifest("nowhere");
    vmi.spec.nodeSelector = { zone: "nowhere" };
    expect((await stack.apply(vmi)).rejected?.errors ?? []).toEqual([]);
    const deadline = Date.now() + 30_000;
    while (!(await stack.get("nowhere")).vmi?.pendingReason) {
      if (Date.now() > deadline) throw new Error("nowhere was never found unplaceable");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const pending = await hc(["logs", "nowhere"]);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toBe(
      "headroom: vmi/nowhere has no console log yet: it is not placed on a host " +
        "(0/1 hosts can run it: 1 do not match nodeSelector)\n",
    );
    // A follow keeps waiting for the host, and ends on SIGINT with exit 0.
    const follow = start([...cli, "logs", "nowhere", "-f"], env);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    follow.child.kill("SIGINT");
    const followed = await follow.done;
    expect(followed.stderr).toBe("");
    expect(followed.code).toBe(0);
  });

  it("refuses a name that cannot be a VMI's (exit 1) and a bad --tail (exit 2)", async () => {
    const name = await hc(["logs", "../etc"]);
    expect(name.code).toBe(1);
    expect(name.stderr).toContain("is not a DNS-1123 label");
    const tail = await hc(["logs", "web", "--tail", "many"]);
    expect(tail.code).toBe(2);
  });
});
