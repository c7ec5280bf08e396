/**
 * Many holders at once, or one alone: plans share the image store while they
 * use it, and a prune has it to itself. A waiting prune goes before plans
 * that arrive after it, so a busy host still prunes.
 */
export class SharedLock {
  #holders = 0;
  #exclusive: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  /** Waits for any exclusive holder; resolves with the function that lets go. */
  async shared(): Promise<() => void> {
    while (this.#exclusive) await this.#exclusive;
    this.#holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holders--;
      if (this.#holders === 0) this.#drained?.();
    };
  }

  /** Runs `work` once no one else holds the lock. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    let done = () => {};
    this.#exclusive = new Promise((resolve) => {
      done = resolve;
    });
    try {
      if (this.#holders > 0)
        await new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
      return await work();
    } finally {
      this.#drained = undefined;
      this.#exclusive = undefined;
      done();
    }
  }
}
