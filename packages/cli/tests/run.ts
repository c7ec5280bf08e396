// Runs the real `headroom` binary as a child process, as a user would.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const bin = fileURLToPath(new URL("../bin/headroom.js", import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text`; rejects after `timeoutMs` or when the process ends first. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  done: Promise<Run>;
}

/** Starts `headroom ...args` from the repository root with `env` added. */
export function start(args: string[], env: Record<string, string> = {}, input?: string): Running {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const listener of listeners) listener();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin?.end(input ?? "");
  const done = new Promise<Run>((resolve) =>
    child.once("close", (code) => {
      for (const listener of listeners) listener();
      resolve({ code, stdout, stderr });
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitForOutput(text, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `no "${text}" within ${timeoutMs} ms; stdout:\n${stdout}\nstderr:\n${stderr}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          if (stdout.includes(text)) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            listeners.delete(check);
            reject(new Error(`exited before "${text}"; stdout:\n${stdout}\nstderr:\n${stderr}`));
          }
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs `headroom ...args` to the end. */
export function headroom(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<Run> {
  return start(args, env, input).done;
}

/**
 * Writes `vmi` to `<dir>/<name>.json` and runs `headroom apply -f FILE --wait`
 * with `cli` (server, state dir, namespace), as a user applies a file.
 */
export async function applyAndWait(
  cli: string[],
  dir: string,
  name: string,
  vmi: unknown,
): Promise<Run> {
  const file = `${dir}/${name}.json`;
  await writeFile(file, JSON.stringify(vmi));
  return headroom([...cli, "apply", "-f", file, "--wait", "--timeout", "150s"]);
}

/**
 * Follows the VMI's console (`headroom logs -f`) until it shows each of
 * `texts`, in turn, each on a whole line: output arrives in chunks, and a
 * line cut at the end of one would be read half.
 */
export async function consoleUntil(
  cli: string[],
  name: string,
  ...texts: string[]
): Promise<string> {
  const follow = start([...cli, "logs", name, "-f"]);
  for (const text of texts) {
    await follow.waitForOutput(text, 150_000);
    const line = follow.stdout().lastIndexOf(text);
    const deadline = Date.now() + 30_000;
    while (!follow.stdout().includes("\n", line)) {
      if (Date.now() > deadline) throw new Error(`the console line with ${text} never ended`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  follow.child.kill("SIGINT");
  return (await follow.done).stdout;
}

/**
 * Hot-plugs NICs extra1..extraN on the seed's bridge network into the VMI
 * until its `free` places are taken, each through `headroom addinterface`. The
 * request is a floor: on q35 one more is refused (no free slot); pc's root
 * bus has slots to spare, so none more is tried there.
 */
export async function plugToCapacity(
  cli: string[],
  name: string,
  machine: string,
  free: number,
): Promise<void> {
  const tries = machine === "q35" ? free + 1 : free;
  for (let i = 1; i <= tries; i++) {
    const add = await headroom([
      ...cli,
      "addinterface",
      name,
      "--name",
      `extra${i}`,
      "--network",
      "headroom-bridge",
    ]);
    if (i <= free) expect(add.code, add.stderr).toBe(0);
    else {
      expect(add.code).toBe(1);
      expect(add.stderr).toContain(`has no free slot for interface extra${i}`);
    }
  }
}
