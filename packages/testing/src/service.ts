import { spawn } from "node:child_process";
import { isAbsolute, join } from "node:path";
import { exited, killOnExit, terminate } from "./cleanup.ts";
import { repoRoot } from "./root.ts";

export interface ServiceProcess {
  pid: number;
  /** stdout and stderr so far, interleaved. */
  logs(): string;
  /** Resolves with the logs once `pattern` appears in them; rejects on timeout or exit. */
  waitForLog(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM (SIGKILL after `graceMs`); resolves with the exit code or signal. */
  stop(graceMs?: number): Promise<number | string>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<number | string>;
}

/**
 * Runs a TypeScript entrypoint (`node --conditions=headroom:source --import
 * tsx <path>`, path relative to the repository root) as a child process with
 * `env` added to this process's environment. The condition makes workspace
 * packages resolve to their sources, as in vitest, not to their dist/ builds.
 * Killed when the test process exits.
 */
export function startService(path: string, env: Record<string, string> = {}): ServiceProcess {
  const root = repoRoot();
  const child = spawn(
    process.execPath,
    ["--conditions=headroom:source", "--import", "tsx", isAbsolute(path) ? path : join(root, path)],
    {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  killOnExit(child);
  let log = "";
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    log += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const done = exited(child);
  done.then(() => {
    for (const check of waiters) check();
  });

  return {
    pid: child.pid ?? -1,
    logs: () => log,
    exited: done,
    waitForLog(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const matches = () =>
          typeof pattern === "string" ? log.includes(pattern) : pattern.test(log);
        const check = () => {
          if (matches()) {
            cleanup();
            resolve(log);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`${path} exited before logging ${pattern}:\n${log}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${path} did not log ${pattern} within ${timeoutMs} ms:\n${log}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    stop: (graceMs?: number) => terminate(child, graceMs),
    kill() {
      child.kill("SIGKILL");
      return done;
    },
  };
}
