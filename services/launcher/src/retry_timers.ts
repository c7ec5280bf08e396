/**
 * One pending retry per key, each later than the last: the first after
 * `firstMs`, then doubling up to `maxMs`, until the task says it is done.
 * Used to ask a guest again for a NIC it did not release.
 */
export class RetryTimers {
  readonly #pending = new Map<string, NodeJS.Timeout>();
  #stopped = false;

  constructor(
    readonly firstMs: number,
    readonly maxMs: number,
  ) {}

  /** The wait before attempt `attempt` (0 for the first). */
  delayOf(attempt: number): number {
    return Math.min(this.maxMs, this.firstMs * 2 ** Math.min(attempt, 30));
  }

  /**
   * Runs `task` for `key` after delayOf(attempt), again while it resolves
   * false or throws (handed to `onError`). A key already waiting keeps its
   * timer.
   */
  schedule(
    key: string,
    task: (attempt: number) => Promise<boolean>,
    onError: (error: unknown) => void,
    attempt = 0,
  ): void {
    if (this.#stopped || this.#pending.has(key)) return;
    const timer = setTimeout(async () => {
      this.#pending.delete(key);
      let done = false;
      try {
        done = await task(attempt);
      } catch (error) {
        onError(error);
      }
      if (!done) this.schedule(key, task, onError, attempt + 1);
    }, this.delayOf(attempt));
    // A pending retry never keeps the process alive.
    timer.unref();
    this.#pending.set(key, timer);
  }

  has(key: string): boolean {
    return this.#pending.has(key);
  }

  /** Drops every pending retry; none is scheduled after this. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
  }
}
