/**
 * Sees a namespace's VMIs go through the pipeline without polling: plain NATS subscriptions on
 * the subjects the services publish to (a JetStream publish and a KV put are NATS messages
 * like any other), stamped with `performance.now()` when they arrive here.
 *
 * - `accepted`: the validator's VmiAccepted (headroom.pipeline.accepted.<ns>.<name>)
 * - `scheduled`: the launcher's status write on taking a plan (KV headroom-status, phase Scheduled)
 * - `plan`: the composer's DomainPlan, handed to the VMI's host (headroom.host.<node>.plan.<ns>.<name>)
 * - `reserved`, `released`, …: the launcher's capacity events (headroom.capacity.<ns>.<name>)
 * - `running`, `failed`: the launcher's status write (KV headroom-status)
 * - `deleted`: the validator's VmiDeleted; `statusDeleted`: the status key removed
 */
import {
  BUCKETS,
  decode,
  type Msg,
  type NatsConnection,
  parseStoreKey,
  subjectToken,
} from "@headroom/bus";
import {
  CapacityEvent,
  CapacityEventType,
  DomainPlan,
  Phase,
  VmiAccepted,
  VmiStatus,
} from "@headroom/proto";

export type Stage =
  | "accepted"
  | "deleted"
  | "plan"
  | "scheduled"
  | "running"
  | "failed"
  | "statusDeleted"
  | "reserved"
  | "attached"
  | "detached"
  | "nodeLost"
  | "exhausted"
  | "released";

export interface Sighting {
  stage: Stage;
  /** performance.now() when the message arrived. */
  at: number;
  uid: string;
  /** The DomainPlan, for `plan`. */
  plan?: DomainPlan;
  /** The status reason, for `failed`. */
  reason?: string;
}

interface Waiter {
  name: string;
  stage: Stage;
  uid: string | undefined;
  resolve: (sighting: Sighting) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const CAPACITY_STAGES: Partial<Record<CapacityEventType, Stage>> = {
  [CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED]: "reserved",
  [CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED]: "attached",
  [CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED]: "detached",
  [CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED]: "exhausted",
  [CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED]: "released",
  [CapacityEventType.CAPACITY_EVENT_TYPE_NODE_LOST]: "nodeLost",
};

export interface PipelineWatch {
  /**
   * The first sighting of `stage` for VMI `name` (of `uid` when given) — already seen, or the
   * next to come; rejects after `timeoutMs`, or at once when the VMI failed meanwhile.
   */
  next(name: string, stage: Stage, uid?: string, timeoutMs?: number): Promise<Sighting>;
  /** Everything seen for `name`, in order of arrival. */
  sightings(name: string): Sighting[];
  /** Forgets what was seen for `name` (before its name is used again). */
  forget(name: string): void;
  close(): Promise<void>;
}

export async function watchPipeline(nc: NatsConnection, namespace: string): Promise<PipelineWatch> {
  const ns = subjectToken(namespace);
  const seen = new Map<string, Sighting[]>();
  const waiters = new Set<Waiter>();

  const matches = (w: Waiter, name: string, s: Sighting) =>
    w.name === name && w.stage === s.stage && (w.uid === undefined || w.uid === s.uid);

  const record = (subject: string, sighting: Sighting | undefined) => {
    if (!sighting) return;
    const { name } = parseStoreKey(subject);
    seen.set(name, [...(seen.get(name) ?? []), sighting]);
    for (const waiter of waiters) {
      if (matches(waiter, name, sighting)) {
        settle(waiter);
        waiter.resolve(sighting);
      } else if (
        sighting.stage === "failed" &&
        waiter.name === name &&
        (waiter.uid === undefined || waiter.uid === sighting.uid)
      ) {
        settle(waiter);
        waiter.reject(new Error(`vmi ${namespace}/${name} failed: ${sighting.reason}`));
      }
    }
  };
  const settle = (waiter: Waiter) => {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
  };

  const onPipeline = (msg: Msg, at: number): Sighting | undefined => {
    const kind = msg.subject.split(".")[2];
    if (kind === "accepted")
      return { stage: "accepted", at, uid: decode(VmiAccepted, msg.data).uid };
    if (kind === "deleted") return { stage: "deleted", at, uid: "" };
    return undefined;
  };
  const onHostWork = (msg: Msg, at: number): Sighting | undefined => {
    if (msg.subject.split(".")[3] !== "plan") return undefined;
    const plan = decode(DomainPlan, msg.data);
    return { stage: "plan", at, uid: plan.uid, plan };
  };
  const onStatus = (msg: Msg, at: number): Sighting | undefined => {
    const operation = msg.headers?.get("KV-Operation");
    if (operation === "DEL" || operation === "PURGE" || msg.data.length === 0)
      return { stage: "statusDeleted", at, uid: "" };
    const status = decode(VmiStatus, msg.data);
    const stage: Stage | undefined =
      status.phase === Phase.PHASE_RUNNING
        ? "running"
        : status.phase === Phase.PHASE_SCHEDULED
          ? "scheduled"
          : status.phase === Phase.PHASE_FAILED
            ? "failed"
            : undefined;
    return stage ? { stage, at, uid: status.uid, reason: status.reason } : undefined;
  };
  const onCapacity = (msg: Msg, at: number): Sighting | undefined => {
    const event = decode(CapacityEvent, msg.data);
    const stage = CAPACITY_STAGES[event.type];
    return stage ? { stage, at, uid: event.uid } : undefined;
  };

  const subscriptions = (
    [
      [`headroom.pipeline.*.${ns}.*`, onPipeline],
      [`headroom.host.*.*.${ns}.*`, onHostWork],
      [`$KV.${BUCKETS.status}.${ns}.*`, onStatus],
      [`headroom.capacity.${ns}.*`, onCapacity],
    ] as const
  ).map(([subject, read]) =>
    nc.subscribe(subject, {
      callback: (error, msg) => {
        const at = performance.now();
        if (error) return;
        try {
          record(msg.subject, read(msg, at));
        } catch {
          // Not a message of ours to read; the services log their own garbage.
        }
      },
    }),
  );
  // The server has the subscriptions before anything is applied.
  await nc.flush();

  return {
    next(name, stage, uid, timeoutMs = 120_000) {
      const already = (seen.get(name) ?? []).find(
        (s) => s.stage === stage && (uid === undefined || s.uid === uid),
      );
      if (already) return Promise.resolve(already);
      const failed = (seen.get(name) ?? []).find(
        (s) => s.stage === "failed" && (uid === undefined || s.uid === uid),
      );
      if (failed)
        return Promise.reject(new Error(`vmi ${namespace}/${name} failed: ${failed.reason}`));
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          name,
          stage,
          uid,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`vmi ${namespace}/${name}: no ${stage} within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    sightings: (name) => [...(seen.get(name) ?? [])],
    forget: (name) => {
      seen.delete(name);
    },
    async close() {
      for (const waiter of waiters) {
        settle(waiter);
        waiter.reject(new Error("the watch was closed"));
      }
      for (const sub of subscriptions) sub.unsubscribe();
    },
  };
}
