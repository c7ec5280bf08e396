import type { ChildProcess } from "node:child_process";

// Children still running when the test process exits are killed, so a failed
// or interrupted test run leaves no nats-server or service behind.
const children = new Set<ChildProcess>();
let hooked = false;

export function killOnExit(child: ChildProcess): void {
  children.add(child);
  child.once("exit", () => children.delete(child));
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const running of children) running.kill("SIGKILL");
  });
}

/** Resolves with the exit code (or signal) once the child has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
}

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`. */
export async function terminate(child: ChildProcess, graceMs = 10_000): Promise<number | string> {
  const done = exited(child);
  if (child.exitCode !== null || child.signalCode !== null) return done;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}
