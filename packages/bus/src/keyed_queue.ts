/**
 * Runs tasks one at a time per key and in parallel across keys: a VMI's
 * launch, hot-plugs and delete never overlap (the launcher), creates into one
 * namespace are counted one by one (the validator), and different keys do not
 * wait on each other. A task runs whether the one before it failed or not.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => {});
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with a task queued or running. */
  get busyKeys(): number {
    return this.#tails.size;
  }
}
