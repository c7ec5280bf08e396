import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type ObjectStore, Objm } from "@nats-io/obj";
import {
  type NatsConnection,
  NoRespondersError,
  nanos,
  TimeoutError,
} from "@nats-io/transport-node";
import { decode, type MessageType } from "./codec.ts";
import { TRANSIENT_RETRY_MS } from "./errors.ts";
import {
  BUCKETS,
  CAPACITY_FILTER,
  HOST_WORK_FILTER,
  OBJECT_STORES,
  PIPELINE_FILTERS,
  STREAMS,
} from "./subjects.ts";

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * How many servers keep each stream, bucket and the image store:
 * HEADROOM_NATS_REPLICAS, 1 (one server, the default) to 5; 3 on a
 * cluster of three (infra/nats/cluster.conf), so one server can be lost.
 * Throws naming the variable when it is not one of those.
 */
export function jetStreamReplicas(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.HEADROOM_NATS_REPLICAS;
  if (text === undefined || text === "") return 1;
  const replicas = Number(text);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5)
    throw new Error(`HEADROOM_NATS_REPLICAS=${text} must be a whole number from 1 to 5`);
  return replicas;
}

/**
 * A work queue of hand-offs: a message stays until the one consumer of its
 * stage acked it, however long that service is down; when full, new work is
 * refused rather than old work silently dropped. A plan carries domain XML
 * made from a manifest of up to 1 MiB.
 */
const WORK_QUEUE: Partial<StreamConfig> = {
  retention: RetentionPolicy.Workqueue,
  storage: StorageType.File,
  duplicate_window: nanos(2 * MINUTE_MS),
  discard: DiscardPolicy.New,
  max_bytes: 256 * MIB,
  max_msg_size: 2 * MIB,
  num_replicas: 1,
};

/** The streams headroom needs, as created by ensureStreams (on one server). */
export const STREAM_CONFIGS: Array<Partial<StreamConfig> & { name: string }> = [
  {
    name: STREAMS.pipeline,
    description: "headroom hand-offs: accepted VMIs, deletions, refused hot-plugs",
    subjects: [PIPELINE_FILTERS.all],
    ...WORK_QUEUE,
  },
  {
    name: STREAMS.hostWork,
    description: "headroom work for one host: plans, releases, refused hot-plugs",
    subjects: [HOST_WORK_FILTER],
    ...WORK_QUEUE,
  },
  {
    name: STREAMS.capacity,
    description: "headroom capacity events, replayable",
    subjects: [CAPACITY_FILTER],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: nanos(2 * MINUTE_MS),
    max_age: nanos(30 * DAY_MS),
    max_msgs_per_subject: 10_000,
    // Bounded in bytes too, so events can never fill JetStream's store (the
    // oldest go first); an event is a status snapshot, far under 64 KiB.
    max_bytes: 256 * MIB,
    max_msg_size: 64 * KIB,
    discard: DiscardPolicy.Old,
    num_replicas: 1,
  },
];

/**
 * Each bucket's revisions kept per key and its bounds: a full bucket refuses
 * writes to itself alone, never fills JetStream's whole store. A VMI record
 * holds a manifest of up to MAX_REQUEST_BYTES (1 MiB). nats-server reserves
 * every stream's max_bytes: with the streams they add up to 1256 MiB, and
 * with the image store's IMAGE_STORE_MAX_BYTES to 5352 MiB, inside the 6 GB
 * file store of infra/nats/headroom.conf.
 */
export const BUCKET_LIMITS: Record<
  string,
  { history: number; maxBytes: number; maxValueSize: number }
> = {
  [BUCKETS.vmis]: { history: 10, maxBytes: 384 * MIB, maxValueSize: 2 * MIB },
  [BUCKETS.status]: { history: 1, maxBytes: 64 * MIB, maxValueSize: 256 * KIB },
  [BUCKETS.networks]: { history: 5, maxBytes: 8 * MIB, maxValueSize: 4 * KIB },
  [BUCKETS.hosts]: { history: 1, maxBytes: 16 * MIB, maxValueSize: 256 * KIB },
  [BUCKETS.placements]: { history: 1, maxBytes: 16 * MIB, maxValueSize: 4 * KIB },
};

/** All images in the image store together, and so the largest one (4 GiB). */
export const IMAGE_STORE_MAX_BYTES = 4 * 1024 * MIB;

export type Buckets = { [K in keyof typeof BUCKETS]: KV };

export function toJetStream(nc: NatsConnection | JetStreamClient): JetStreamClient {
  return "jetstreamManager" in nc ? nc : jetstream(nc);
}

/**
 * Creates the headroom streams that are missing. An existing stream is used
 * as it is, never changed: services may create streams, not update them (an
 * update could, say, undo a seal an administrator set). Returns what differs
 * between each existing stream and the configuration headroom creates, in
 * words for a log; a stream of another retention or storage cannot serve and
 * throws.
 */
export async function ensureStreams(
  js: NatsConnection | JetStreamClient,
  replicas = jetStreamReplicas(),
): Promise<string[]> {
  const jsm = await toJetStream(js).jetstreamManager();
  const differences: string[] = [];
  for (const config of STREAM_CONFIGS) {
    const wanted = { ...config, num_replicas: replicas };
    differences.push(...(await whileOthersCreate(() => ensureStream(jsm, wanted))));
  }
  return differences;
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<string[]> {
  let existing: StreamConfig;
  try {
    existing = (await jsm.streams.info(config.name)).config;
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    try {
      await jsm.streams.add(config);
      return [];
    } catch (addError) {
      // Another process created it meanwhile: fall through to the comparison.
      existing = (await jsm.streams.info(config.name).catch(() => Promise.reject(addError))).config;
    }
  }
  if (existing.retention !== config.retention || existing.storage !== config.storage) {
    throw new Error(
      `stream ${config.name} exists with retention ${existing.retention}/${existing.storage}, ` +
        `headroom needs ${config.retention}/${config.storage}: delete it or use another server`,
    );
  }
  const keys = Object.keys(config) as Array<keyof StreamConfig>;
  return keys
    .filter((key) => JSON.stringify(existing[key]) !== JSON.stringify(config[key]))
    .map(
      (key) =>
        `stream ${config.name}: ${key} is ${JSON.stringify(existing[key])}, headroom creates it ` +
        `with ${JSON.stringify(config[key])}; left as it is`,
    );
}

/**
 * Runs a create-or-open again when it fails: two services creating the same
 * stream at once both see it missing, and nats-server may refuse the second
 * creation for lack of room (the first one's reservation) before it sees the
 * stream exists. A moment later the stream is there and opens. A cluster
 * that is still electing its JetStream leader answers late or not at all:
 * that is waited out for up to a minute. Any other error is final.
 */
async function whileOthersCreate<T>(createOrOpen: () => Promise<T>): Promise<T> {
  const transientUntil = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await createOrOpen();
    } catch (error) {
      if (isTransientNatsError(error) && Date.now() < transientUntil) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (attempt >= 5 || !(error instanceof JetStreamApiError)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** Creates (or opens) every headroom KV bucket. */
export async function ensureBuckets(
  js: NatsConnection | JetStreamClient,
  replicas = jetStreamReplicas(),
): Promise<Buckets> {
  const kvm = new Kvm(toJetStream(js));
  // An existing bucket is opened as it is (services may create buckets, not change them).
  const open = (name: string) => {
    const { history, maxBytes, maxValueSize } = BUCKET_LIMITS[
      name
    ] as (typeof BUCKET_LIMITS)[string];
    return whileOthersCreate(() =>
      kvm.create(name, {
        history,
        max_bytes: maxBytes,
        maxValueSize,
        storage: StorageType.File,
        replicas,
      }),
    );
  };
  const [vmis, status, networks, hosts, placements] = await Promise.all([
    open(BUCKETS.vmis),
    open(BUCKETS.status),
    open(BUCKETS.networks),
    open(BUCKETS.hosts),
    open(BUCKETS.placements),
  ]);
  return { vmis, status, networks, hosts, placements };
}

/**
 * Creates (or opens) the image store. Services call it at start; clients
 * open it (openImageStoreObjects), they may not create it.
 */
export async function ensureImageObjects(
  js: NatsConnection | JetStreamClient,
  replicas = jetStreamReplicas(),
): Promise<ObjectStore> {
  const objm = new Objm(toJetStream(js));
  return whileOthersCreate(() =>
    objm.create(OBJECT_STORES.images, {
      description: "headroom images: one object per image reference, a tar of its tree",
      storage: StorageType.File,
      max_bytes: IMAGE_STORE_MAX_BYTES,
      replicas,
    }),
  );
}

export function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}

/** True for a KV create/update that lost a compare-and-set race. */
export function isWrongLastSequence(error: unknown): boolean {
  return (
    isApiError(error, JetStreamApiCodes.StreamWrongLastSequence) ||
    isApiError(error, JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * A KV entry decoded as `type`, with its revision (for compare-and-set); null
 * when the key was never written or is deleted. A value that does not decode
 * throws DecodeError.
 */
export async function readEntry<Message>(
  kv: KV,
  key: string,
  type: MessageType<never, Message>,
): Promise<{ revision: number; value: Message } | null> {
  const entry = await kv.get(key);
  if (entry?.operation !== "PUT") return null;
  return { revision: entry.revision, value: decode(type, entry.value) };
}

export interface CompareAndSetOptions {
  /** Attempts before giving up (default 10). */
  attempts?: number;
  /** The error thrown when every attempt lost its race. */
  gaveUp: () => Error;
  /** Told of each lost race (debug logging). */
  onLost?: (attempt: number) => void;
  /**
   * How long a write may keep failing for a passing reason (a NATS server
   * of a cluster lost, its streams electing a new leader) before the error
   * is thrown (default 20 s).
   */
  transientForMs?: number;
}

/** Pauses between tries after a passing failure: 0.25 s doubling to 2 s. */
const TRANSIENT_PAUSES_MS = [250, 500, 1000, 2000];

/**
 * Whether a NATS or JetStream failure passes by itself: no answer in time, no
 * responder, or JetStream saying it is busy or has no leader (503, as while a
 * cluster elects one). Looks through `cause` chains.
 */
export function isTransientNatsError(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof TimeoutError || e instanceof NoRespondersError) return true;
    if (e instanceof JetStreamApiError && (e.status === 503 || e.status === 504)) return true;
  }
  return false;
}

/**
 * Runs `work` (reads, or writes that are safe to repeat) again while NATS
 * fails for a passing reason (isTransientNatsError), for up to `forMs`
 * (default 20 s), pausing 0.25 s doubling to 2 s; then, or for any other
 * error, throws.
 */
export async function retryTransient<T>(
  work: () => Promise<T>,
  forMs = TRANSIENT_RETRY_MS,
): Promise<T> {
  const until = Date.now() + forMs;
  for (let tries = 0; ; tries++) {
    try {
      return await work();
    } catch (error) {
      if (!isTransientNatsError(error) || Date.now() >= until) throw error;
      const pause = TRANSIENT_PAUSES_MS[Math.min(tries, TRANSIENT_PAUSES_MS.length - 1)];
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * Runs `attempt` (read, decide, write with compare-and-set) again whenever
 * its write lost a race to another writer, after a short random pause so
 * racing writers spread out; and when NATS failed for a passing reason
 * (isTransientNatsError), after a longer one, for up to `transientForMs`.
 * Each attempt reads afresh, so one whose write landed but whose answer was
 * lost finds it done. Any other error is thrown as it is.
 */
export async function retryCompareAndSet<T>(
  attempt: (number: number) => Promise<T>,
  options: CompareAndSetOptions,
): Promise<T> {
  const attempts = options.attempts ?? 10;
  const transientUntil = Date.now() + (options.transientForMs ?? TRANSIENT_RETRY_MS);
  let transient = 0;
  for (let number = 1; number <= attempts; ) {
    try {
      return await attempt(number);
    } catch (error) {
      if (isTransientNatsError(error) && Date.now() < transientUntil) {
        const pause = TRANSIENT_PAUSES_MS[Math.min(transient++, TRANSIENT_PAUSES_MS.length - 1)];
        await new Promise((resolve) => setTimeout(resolve, pause));
        continue;
      }
      if (!isWrongLastSequence(error)) throw error;
      options.onLost?.(number);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * number));
      number++;
    }
  }
  throw options.gaveUp();
}
