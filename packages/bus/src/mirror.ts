// A bucket's live entries kept in memory from a watch: placement reads every
// host and every placement on each decision, and a watch costs one read per
// change instead of one per key per decision.
import type { KV } from "@nats-io/kv";
import { decode, type MessageType } from "./codec.ts";
import type { Logger } from "./logger.ts";

export interface BucketMirror<T> {
  /** The live entries by key (deleted keys are absent); follows the bucket by a moment. */
  readonly entries: ReadonlyMap<string, T>;
  /**
   * Takes a value this process just wrote, before the watch brings it back,
   * so the next decision here counts it.
   */
  remember(key: string, value: T | null): void;
  /** Called after each change the watch brings (not for the entries there at start). */
  onChange(listener: (key: string, value: T | null) => void): void;
  /** Resolves if the watch stops by itself: the mirror is stale from then on. */
  lost: Promise<Error>;
  stop(): void;
}

/** Starts the watch; resolves once every entry stored at that moment is in the mirror. */
export async function mirrorBucket<T>(
  kv: KV,
  type: MessageType<never, T>,
  log: Logger,
): Promise<BucketMirror<T>> {
  const bucket = (await kv.status()).bucket;
  const entries = new Map<string, T>();
  const listeners: Array<(key: string, value: T | null) => void> = [];
  const watch = await kv.watch({ key: ">" });
  let caughtUp = false;
  let markCaughtUp: () => void = () => {};
  let failed: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markCaughtUp = () => {
      caughtUp = true;
      resolve();
    };
    failed = reject;
  });
  // An empty bucket has no last entry to say the history is done.
  if ((await kv.status()).values === 0) markCaughtUp();
  let stopping = false;
  const lost = (async (): Promise<Error> => {
    try {
      for await (const entry of watch) {
        let value: T | null = null;
        if (entry.operation === "PUT") {
          try {
            value = decode(type, entry.value);
          } catch (error) {
            log.warn({ bucket, key: entry.key, err: error }, "unreadable entry ignored");
          }
        }
        if (value === null) entries.delete(entry.key);
        else entries.set(entry.key, value);
        if (caughtUp) for (const listener of listeners) listener(entry.key, value);
        if (entry.delta === 0 && !caughtUp) markCaughtUp();
      }
      return new Error(`the watch of bucket ${bucket} ended`);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  })().then((error) => {
    if (!stopping) {
      log.error({ err: error }, `stopped following bucket ${bucket}`);
      failed(error);
    }
    return error;
  });
  await ready;
  return {
    entries,
    remember: (key, value) => {
      if (value === null) entries.delete(key);
      else entries.set(key, value);
    },
    onChange: (listener) => listeners.push(listener),
    lost: lost.then((error) => (stopping ? new Promise<Error>(() => {}) : error)),
    stop: () => {
      stopping = true;
      watch.stop();
    },
  };
}
