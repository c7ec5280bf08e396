import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** One long-running process the supervisor keeps alive. */
export interface ProcessSpec {
  /** Short name, used as the log prefix. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface SupervisorOptions {
  /** Where prefixed output lines go (default: process.stdout). */
  write?: (line: string) => void;
  /** First restart delay; doubles on each quick death, up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A process that stayed up this long gets its backoff reset. */
  healthyAfterMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

interface Supervised {
  spec: ProcessSpec;
  child: ChildProcess | null;
  backoffMs: number;
  startedAt: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | null;
}

/**
 * Runs processes, prefixes their output with their name, and restarts any
 * that dies, with exponential backoff so a process that cannot start does not
 * spin. stop() ends them all: SIGTERM first, SIGKILL after a timeout.
 */
export class Supervisor {
  readonly #write: (line: string) => void;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #healthyAfterMs: number;
  readonly #stopTimeoutMs: number;
  readonly #processes = new Map<string, Supervised>();
  #stopping = false;

  constructor(options: SupervisorOptions = {}) {
    this.#write = options.write ?? ((line) => process.stdout.write(`${line}\n`));
    this.#initialBackoffMs = options.initialBackoffMs ?? 500;
    this.#maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.#healthyAfterMs = options.healthyAfterMs ?? 30_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  }

  /** Starts a process and keeps it running until stop(). */
  start(spec: ProcessSpec): void {
    if (this.#processes.has(spec.name))
      throw new Error(`a process named ${spec.name} is already supervised`);
    const entry: Supervised = {
      spec,
      child: null,
      backoffMs: this.#initialBackoffMs,
      startedAt: 0,
      restarts: 0,
      restartTimer: null,
    };
    this.#processes.set(spec.name, entry);
    this.#spawn(entry);
  }

  /** How many times each process has been restarted. */
  restarts(): Record<string, number> {
    return Object.fromEntries([...this.#processes].map(([name, p]) => [name, p.restarts]));
  }

  /** The pid of a running process, if it runs. */
  pid(name: string): number | undefined {
    return this.#processes.get(name)?.child?.pid;
  }

  /** Stops every process, in the reverse order they were started. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const entries = [...this.#processes.values()].reverse();
    for (const entry of entries) {
      if (entry.restartTimer) clearTimeout(entry.restartTimer);
      await this.#terminate(entry);
    }
  }

  #spawn(entry: Supervised): void {
    const { spec } = entry;
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    entry.child = child;
    entry.startedAt = Date.now();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) =>
        this.#write(`[${spec.name}] ${line}`),
      );
    }
    child.on("error", (error) => this.#write(`[supervisor] ${spec.name}: ${error.message}`));
    child.on("exit", (code, signal) => {
      entry.child = null;
      if (this.#stopping) return;
      const upMs = Date.now() - entry.startedAt;
      if (upMs >= this.#healthyAfterMs) entry.backoffMs = this.#initialBackoffMs;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      this.#write(`[supervisor] ${spec.name} ${how}; restarting in ${entry.backoffMs} ms`);
      entry.restartTimer = setTimeout(() => {
        entry.restartTimer = null;
        if (this.#stopping) return;
        entry.restarts += 1;
        this.#spawn(entry);
      }, entry.backoffMs);
      entry.backoffMs = Math.min(entry.backoffMs * 2, this.#maxBackoffMs);
    });
  }

  async #terminate(entry: Supervised): Promise<void> {
    const child = entry.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      this.#write(
        `[supervisor] ${entry.spec.name} did not stop in ${this.#stopTimeoutMs} ms; killing it`,
      );
      child.kill("SIGKILL");
    }, this.#stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
