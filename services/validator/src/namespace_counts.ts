// How many VMIs each namespace holds, kept up to date from a watch of the VMI
// bucket, so an apply checks the namespace quota without counting keys on
// every create. The counts follow writes by a moment: a quota can be passed by
// as many creates as race each other across validator replicas.
import { type KV, type Logger, parseStoreKey } from "@headroom/bus";

export interface NamespaceCounts {
  /** VMIs stored in `namespace`, as far as the watch has seen. */
  count(namespace: string): number;
  stop(): void;
}

/** Starts the watch; resolves once every VMI stored at that moment is counted. */
export async function watchNamespaceCounts(vmis: KV, log: Logger): Promise<NamespaceCounts> {
  const names = new Map<string, Set<string>>();
  const watch = await vmis.watch({ key: ">", headers_only: true });
  let caughtUp: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    caughtUp = resolve;
  });
  // An empty bucket has no last entry to say the history is done.
  if ((await vmis.status()).values === 0) caughtUp();
  void (async () => {
    for await (const entry of watch) {
      const { namespace, name } = parseStoreKey(entry.key);
      const held = names.get(namespace) ?? new Set<string>();
      if (entry.operation === "PUT") held.add(name);
      else held.delete(name);
      if (held.size === 0) names.delete(namespace);
      else names.set(namespace, held);
      if (entry.delta === 0) caughtUp();
    }
  })().catch((error: unknown) => log.error({ err: error }, "namespace counts stopped following"));
  await ready;
  return {
    count: (namespace) => names.get(namespace)?.size ?? 0,
    stop: () => watch.stop(),
  };
}
