import { describe, expect, it } from "vitest";
import { Supervisor } from "../src/mod.ts";

const node = process.execPath;

function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error("condition not met in time"));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe("Supervisor", () => {
  it("prefixes each output line with the process name", async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor({ write: (line) => lines.push(line) });
    supervisor.start({
      name: "echo",
      command: node,
      args: ["-e", "console.log('hello'); console.error('oops'); setInterval(() => {}, 1000)"],
    });
    await until(() => lines.length >= 2);
    await supervisor.stop();
    expect(lines).toContain("[echo] hello");
    expect(lines).toContain("[echo] oops");
  });

  it("restarts a process that dies, with growing backoff", async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor({ write: (line) => lines.push(line), initialBackoffMs: 10 });
    supervisor.start({ name: "crashy", command: node, args: ["-e", "process.exit(3)"] });
    await until(() => (supervisor.restarts().crashy ?? 0) >= 3);
    await supervisor.stop();
    const notices = lines.filter((line) =>
      line.startsWith("[supervisor] crashy exited with code 3"),
    );
    expect(notices.length).toBeGreaterThanOrEqual(3);
    expect(notices[0]).toContain("restarting in 10 ms");
    expect(notices[1]).toContain("restarting in 20 ms");
  });

  it("restarts a process killed from outside", async () => {
    const supervisor = new Supervisor({ write: () => {}, initialBackoffMs: 10 });
    supervisor.start({
      name: "victim",
      command: node,
      args: ["-e", "setInterval(() => {}, 1000)"],
    });
    await until(() => supervisor.pid("victim") !== undefined);
    const firstPid = supervisor.pid("victim");
    process.kill(firstPid as number, "SIGKILL");
    await until(
      () => supervisor.pid("victim") !== undefined && supervisor.pid("victim") !== firstPid,
    );
    expect(supervisor.restarts().victim).toBe(1);
    await supervisor.stop();
  });

  it("stop() ends every process, with SIGKILL for one that ignores SIGTERM", async () => {
    const supervisor = new Supervisor({ write: () => {}, stopTimeoutMs: 200 });
    supervisor.start({
      name: "stubborn",
      command: node,
      args: ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"],
    });
    supervisor.start({
      name: "polite",
      command: node,
      args: ["-e", "setInterval(() => {}, 1000)"],
    });
    await until(
      () => supervisor.pid("stubborn") !== undefined && supervisor.pid("polite") !== undefined,
    );
    const pids = [supervisor.pid("stubborn") as number, supervisor.pid("polite") as number];
    // Give the stubborn child time to install its SIGTERM handler.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await supervisor.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
