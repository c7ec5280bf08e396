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
   * Each key's last entry seen here, deletes included (value null), with its
   * revision: a compare-and-set write may start from it instead of a read,
   * and reads afresh only when its write finds the bucket moved on.
   */
  readonly latest: ReadonlyMap<string, { revision: number; value: T | null }>;
  /**
   * Takes a value this process just wrote, before the watch brings it back,
   * so the next decision here counts it; with the write's revision, `latest`
   * has it too.
   */
  remember(key: string, value: T | null, revision?: number): void;
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
  const latest = new Map<string, { revision: number; value: T | null }>();
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
        // An entry older than a write remembered here changes nothing.
        if (entry.revision > (latest.get(entry.key)?.revision ?? 0)) {
          latest.set(entry.key, { revision: entry.revision, value });
          if (value === null) entries.delete(entry.key);
          else entries.set(entry.key, value);
        }
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
    latest,
    remember: (key, value, revision) => {
      if (value === null) entries.delete(key);
      else entries.set(key, value);
      if (revision !== undefined && revision > (latest.get(key)?.revision ?? 0))
        latest.set(key, { revision, value });
    },
    onChange: (listener) => listeners.push(listener),
    lost: lost.then((error) => (stopping ? new Promise<Error>(() => {}) : error)),
    stop: () => {
      stopping = true;
      watch.stop();
    },
  };
}
