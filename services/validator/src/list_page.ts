// One page of the VMI list: keys in namespace-then-name order, those after the
// caller's token, at most `limit` VMIs and about MAX_PAGE_BYTES, so a reply
// fits nats-server's payload limit however many VMIs there are.
import { ApiError, parseStoreKey } from "@headroom/bus";

export const MAX_PAGE_VMIS = 500;
export const MAX_PAGE_BYTES = 1024 * 1024;

type Named = { namespace: string; name: string };

function compareNamed(a: Named, b: Named): number {
  return compare(a.namespace, b.namespace) || compare(a.name, b.name);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The keys after `continueToken` (all when empty), in list order. */
export function keysAfter(keys: string[], continueToken: string): string[] {
  const named = keys.map((key) => ({ key, ...parseStoreKey(key) }));
  named.sort(compareNamed);
  if (continueToken === "") return named.map((entry) => entry.key);
  let after: Named;
  try {
    after = parseStoreKey(continueToken);
  } catch {
    throw new ApiError(
      "BAD_REQUEST",
      "continue_token is not one a list reply gave; start again without it",
    );
  }
  return named.filter((entry) => compareNamed(entry, after) > 0).map((entry) => entry.key);
}

/** How many VMIs a page may hold for a request's `limit` (0: the most). */
export function pageLimit(limit: number): number {
  return limit > 0 && limit < MAX_PAGE_VMIS ? limit : MAX_PAGE_VMIS;
}

/**
 * The first items whose sizes fit MAX_PAGE_BYTES (always at least one), and
 * whether any were left out.
 */
export function fitPage<T>(items: T[], sizeOf: (item: T) => number): { page: T[]; cut: boolean } {
  let bytes = 0;
  for (const [i, item] of items.entries()) {
    bytes += sizeOf(item);
    if (bytes > MAX_PAGE_BYTES && i > 0) return { page: items.slice(0, i), cut: true };
  }
  return { page: items, cut: false };
}
