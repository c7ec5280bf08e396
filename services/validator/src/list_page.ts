// One page of the VMI list: keys in namespace-then-name order, those after the
// caller's token, at most `limit` VMIs and about MAX_PAGE_BYTES, so a reply
// fits nats-server's payload limit however many VMIs there are.
import { ApiError, parseStoreKey } from "@headroom/bus";
import { matchesLabels, parseLabelSelector } from "@headroom/vmi";

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

/** Which labels a list request's selector takes; everything when it is empty. */
export function labelFilter(
  selector: string,
): (labels: Record<string, string> | undefined) => boolean {
  if (selector.trim() === "") return () => true;
  const parsed = parseLabelSelector(selector);
  if (!parsed.ok) throw new ApiError("BAD_REQUEST", `label_selector: ${parsed.message}`);
  return (labels) => matchesLabels(labels, parsed.requirements);
}

/** How many VMIs a page may hold for a request's `limit` (0: the most). */
export function pageLimit(limit: number): number {
  return limit > 0 && limit < MAX_PAGE_VMIS ? limit : MAX_PAGE_VMIS;
}

/**
 * Reads `keys` in order, `limit` at a time, into a page of at most `limit`
 * items and about MAX_PAGE_BYTES (always at least one item). `read` gives
 * null for a key to skip (deleted meanwhile, or not selected). The token is
 * the last key the page used up, or "" when none are left.
 */
export async function collectPage<T>(
  keys: string[],
  limit: number,
  read: (key: string) => Promise<T | null>,
  sizeOf: (item: T) => number,
): Promise<{ items: T[]; continueToken: string }> {
  const items: T[] = [];
  let bytes = 0;
  let next = 0;
  while (next < keys.length) {
    const entries = await Promise.all(keys.slice(next, next + limit).map(read));
    for (const entry of entries) {
      if (entry !== null) {
        const size = sizeOf(entry);
        const full = items.length === limit || (items.length > 0 && bytes + size > MAX_PAGE_BYTES);
        if (full) return { items, continueToken: keys[next - 1] as string };
        items.push(entry);
        bytes += size;
      }
      next++;
    }
  }
  return { items, continueToken: "" };
}
