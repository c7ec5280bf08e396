// How many VMIs each namespace holds, kept up to date from a watch of the VMI
// bucket, so an apply checks the namespace quota without counting keys on
// every create. Creates in one namespace run one at a time here and count at
// once; across validator replicas the counts follow each other's writes by a
// moment, so racing replicas can pass a quota by as many creates as race.
import { KeyedQueue, type KV, type Logger, parseStoreKey } from "@headroom/bus";

export interface NamespaceCounts {
  /**
   * Runs `create` unless `namespace` already holds `quota` VMIs (0: no limit);
   * false when it was full. Creates in one namespace run one at a time.
   */
  createWithin(
    namespace: string,
    name: string,
    quota: number,
    create: () => Promise<void>,
  ): Promise<boolean>;
  /** Resolves if the watch stops by itself: the counts are stale from then on. */
  lost: Promise<Error>;
  stop(): void;
}

/** Starts the watch; resolves once every VMI stored at that moment is counted. */
export async function watchNamespaceCounts(vmis: KV, log: Logger): Promise<NamespaceCounts> {
  const names = new Map<string, Set<string>>();
  const note = (namespace: string, name: string, present: boolean) => {
    const held = names.get(namespace) ?? new Set<string>();
    if (present) held.add(name);
    else held.delete(name);
    if (held.size === 0) names.delete(namespace);
    else names.set(namespace, held);
  };
  const watch = await vmis.watch({ key: ">", headers_only: true });
  let caughtUp: () => void = () => {};
  let failed: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    caughtUp = resolve;
    failed = reject;
  });
  // An empty bucket has no last entry to say the history is done.
  if ((await vmis.status()).values === 0) caughtUp();
  let stopping = false;
  const lost = (async (): Promise<Error> => {
    try {
      for await (const entry of watch) {
        const { namespace, name } = parseStoreKey(entry.key);
        note(namespace, name, entry.operation === "PUT");
        if (entry.delta === 0) caughtUp();
      }
      return new Error("the watch of the VMI bucket ended");
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
  })().then((error) => {
    if (!stopping) {
      log.error({ err: error }, "namespace counts stopped following the VMI bucket");
      failed(error);
    }
    return error;
  });
  await ready;

  const creates = new KeyedQueue();
  return {
    createWithin: (namespace, name, quota, create) =>
      creates.run(namespace, async () => {
        if (quota > 0 && (names.get(namespace)?.size ?? 0) >= quota) return false;
        await create();
        note(namespace, name, true);
        return true;
      }),
    lost: lost.then((error) => (stopping ? new Promise<Error>(() => {}) : error)),
    stop: () => {
      stopping = true;
      watch.stop();
    },
  };
}
