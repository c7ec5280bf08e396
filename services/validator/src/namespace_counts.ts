// How many VMIs each namespace holds, kept up to date from the validator's
// mirror of the VMI bucket, so an apply checks the namespace quota without
// counting keys on every create. Creates in one namespace run one at a time
// here and count at once; across validator replicas the counts follow each
// other's writes by a moment, so racing replicas can pass a quota by as many
// creates as race.
import { type BucketMirror, KeyedQueue, parseStoreKey } from "@headroom/bus";

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
}

/** Counts the VMIs `mirror` holds, and follows it. */
export function namespaceCounts(mirror: BucketMirror<unknown>): NamespaceCounts {
  const names = new Map<string, Set<string>>();
  const note = (namespace: string, name: string, present: boolean) => {
    const held = names.get(namespace) ?? new Set<string>();
    if (present) held.add(name);
    else held.delete(name);
    if (held.size === 0) names.delete(namespace);
    else names.set(namespace, held);
  };
  const noteKey = (key: string, present: boolean) => {
    const { namespace, name } = parseStoreKey(key);
    note(namespace, name, present);
  };
  for (const key of mirror.entries.keys()) noteKey(key, true);
  mirror.onChange((key, value) => noteKey(key, value !== null));

  const creates = new KeyedQueue();
  return {
    createWithin: (namespace, name, quota, create) =>
      creates.run(namespace, async () => {
        if (quota > 0 && (names.get(namespace)?.size ?? 0) >= quota) return false;
        await create();
        note(namespace, name, true);
        return true;
      }),
  };
}
