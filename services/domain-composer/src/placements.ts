// The placements bucket and the hosts it places on: this file reads and
// writes them, placement.ts decides. Each VMI's placement is written by
// compare-and-set against the revision read, so composer replicas that race
// on one VMI agree on its host; hosts and other placements come from watches
// and may lag by a moment (two replicas placing different VMIs at once can
// both count a host as it was).
import {
  type BucketMirror,
  type Buckets,
  decode,
  encode,
  type Logger,
  mirrorBucket,
  retryCompareAndSet,
  subjectToken,
} from "@headroom/bus";
import { type HostLoss, HostRecord, hostLoss, Placement } from "@headroom/proto";
import { type Choice, chooseHost, type Demand, type Load } from "./placement.ts";

export interface Placements {
  /**
   * The host of the VMI `uid` under `key`: the one it was placed on, else the
   * one chosen now. A VMI no host can hold is recorded Pending with the reason.
   */
  place(key: string, uid: string, demand: Demand): Promise<Choice>;
  /** The host the VMI `uid` is placed on, or null (not placed, Pending, or another VMI's). */
  nodeOf(key: string, uid: string): Promise<string | null>;
  /** Forgets the placement of the VMI `uid`; the host it was on, or null. */
  release(key: string, uid: string): Promise<string | null>;
  /** The keys of VMIs waiting for a host, with their uids. */
  pending(): Array<{ key: string; uid: string }>;
  /** The VMIs placed on hosts that are lost (see hostLoss), with the loss. */
  onLostHosts(nowMs: number): Array<{ key: string; placement: Placement; loss: HostLoss }>;
  /** Called (debounced) when room may have appeared: a host changed or a VMI left one. */
  onRoomChange(listener: () => void): void;
  lost: Promise<Error>;
  stop(): void;
}

const ROOM_CHANGE_DEBOUNCE_MS = 200;

export async function openPlacements(
  buckets: Buckets,
  log: Logger,
  now: () => number,
): Promise<Placements> {
  const [hosts, placed] = await Promise.all([
    mirrorBucket(buckets.hosts, HostRecord, log),
    mirrorBucket(buckets.placements, Placement, log),
  ]);
  const bucket = buckets.placements;

  const read = async (key: string) => {
    const entry = await bucket.get(key);
    if (entry?.operation !== "PUT") return { revision: entry?.revision ?? 0, value: null };
    try {
      return { revision: entry.revision, value: decode(Placement, entry.value) };
    } catch {
      log.warn({ key }, "unreadable placement replaced");
      return { revision: entry.revision, value: null };
    }
  };

  /** The placement as this composer last saw it: right unless another wrote since. */
  const seen = (key: string) => {
    const last = placed.latest.get(key);
    return { revision: last?.revision ?? 0, value: last?.value ?? null };
  };

  /** Writes by compare-and-set on `revision` (0: none), and remembers it. */
  const write = async (key: string, revision: number, placement: Placement) => {
    const data = encode(Placement, placement);
    const written =
      revision > 0 ? await bucket.update(key, data, revision) : await bucket.create(key, data);
    placed.remember(key, placement, written);
  };

  const listeners: Array<() => void> = [];
  let timer: NodeJS.Timeout | undefined;
  const roomChanged = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      for (const listener of listeners) listener();
    }, ROOM_CHANGE_DEBOUNCE_MS);
  };
  hosts.onChange(roomChanged);
  placed.onChange((_key, value) => {
    if (value === null) roomChanged();
  });

  return {
    async place(key, uid, demand) {
      return retryCompareAndSet(
        async (attempt): Promise<Choice> => {
          // A first try starts from what this composer saw, saving a read on
          // the way to Running; a stale one fails its write and reads. What
          // says this VMI is placed already is read, not trusted.
          const last = attempt === 1 ? seen(key) : null;
          const { revision, value } = last && last.value?.uid !== uid ? last : await read(key);
          if (value?.uid === uid && value.node !== "") return { node: value.node };
          const choice = chooseHost(
            demand,
            hosts.entries.values(),
            loadsBesides(placed, key),
            now(),
          );
          const node = "node" in choice ? choice.node : "";
          const reason = "pending" in choice ? choice.pending : "";
          // A Pending VMI whose reason is unchanged is not written again.
          if (value?.uid === uid && node === "" && value.pendingReason === reason) return choice;
          // An earlier VMI of this name still placed: its deletion is on its way.
          const earlier =
            value && value.uid !== uid && value.node !== ""
              ? { previousUid: value.uid, previousNode: value.node }
              : { previousUid: value?.previousUid ?? "", previousNode: value?.previousNode ?? "" };
          const placement = Placement.create({
            uid,
            node,
            pendingReason: reason,
            memoryBytes: demand.memoryBytes,
            updatedUnixMs: now(),
            ...earlier,
          });
          await write(key, revision, placement);
          return choice;
        },
        { gaveUp: () => new Error(`the placement of ${key} kept changing while it was written`) },
      );
    },

    async nodeOf(key, uid) {
      const { value } = await read(key);
      if (value?.uid === uid) return value.node || null;
      return value?.previousUid === uid ? value.previousNode || null : null;
    },

    async release(key, uid) {
      return retryCompareAndSet(
        async () => {
          const { revision, value } = await read(key);
          if (value?.previousUid === uid) {
            const forgotten = Placement.create({ ...value, previousUid: "", previousNode: "" });
            await write(key, revision, forgotten);
            return value.previousNode || null;
          }
          if (value?.uid !== uid) return null;
          await bucket.delete(key, { previousSeq: revision });
          // The delete's own revision is not returned: the watch brings it.
          placed.remember(key, null);
          return value.node || null;
        },
        { gaveUp: () => new Error(`the placement of ${key} kept changing while it was released`) },
      );
    },

    pending() {
      return [...placed.entries]
        .filter(([, value]) => value.node === "")
        .map(([key, value]) => ({ key, uid: value.uid }));
    },

    onLostHosts(nowMs) {
      const lost: Array<{ key: string; placement: Placement; loss: HostLoss }> = [];
      for (const [key, placement] of placed.entries) {
        const host = placement.node ? hosts.entries.get(subjectToken(placement.node)) : undefined;
        if (!host) continue;
        const loss = hostLoss(host, nowMs);
        if (loss.state === "lost") lost.push({ key, placement, loss });
      }
      return lost;
    },

    onRoomChange: (listener) => listeners.push(listener),
    lost: Promise.race([hosts.lost, placed.lost]),
    stop() {
      clearTimeout(timer);
      hosts.stop();
      placed.stop();
    },
  };
}

/** VMIs and memory placed on each host, leaving out the VMI being placed. */
function loadsBesides(placed: BucketMirror<Placement>, key: string): Map<string, Load> {
  const loads = new Map<string, Load>();
  for (const [other, placement] of placed.entries) {
    if (other === key || placement.node === "") continue;
    const load = loads.get(placement.node) ?? { vmis: 0, memoryBytes: 0 };
    load.vmis += 1;
    load.memoryBytes += Number(placement.memoryBytes);
    loads.set(placement.node, load);
  }
  return loads;
}
