// The validator micro service: apply/delete/get/list on the API subjects.
// Decisions come from apply.ts and @headroom/vmi; this file does the I/O.
import { randomUUID } from "node:crypto";
import {
  API_SUBJECTS,
  ApiError,
  acceptedSubject,
  type Buckets,
  deletedMsgId,
  deletedSubject,
  encode,
  endpoint,
  ensureBuckets,
  ensureStreams,
  generationMsgId,
  isWrongLastSequence,
  type JetStreamClient,
  type KV,
  type Logger,
  type MicroService,
  type NatsConnection,
  readEntry,
  SERVICE_NAMES,
  startMicroService,
  storeKey,
  subjectToken,
  toJetStream,
} from "@headroom/bus";
import {
  ApplyReply,
  ApplyRequest,
  DeleteReply,
  DeleteRequest,
  GetReply,
  GetRequest,
  type IApplyReply,
  type IVmiRecord,
  ListReply,
  ListRequest,
  Outcome,
  Phase,
  VmiAccepted,
  VmiDeleted,
  VmiStatus,
} from "@headroom/proto";
import type { Vmi } from "@headroom/vmi";
import { type AcceptedRecord, checkManifest, planApply, type StoredVmi } from "./apply.ts";

/** Compare-and-set attempts before an apply or delete gives up with CONFLICT. */
const MAX_ATTEMPTS = 10;

/** After a lost compare-and-set: a short random pause so racing writers spread out. */
function backoff(attempt: number, log: Logger, key: string): Promise<void> {
  log.debug({ key, attempt }, "lost a compare-and-set race, deciding again");
  return new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
}

export interface ValidatorOptions {
  log: Logger;
  /** Reported in $SRV.INFO. */
  version?: string;
  /** Largest request accepted (default 1 MiB). */
  maxRequestBytes?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface Validator {
  micro: MicroService;
  buckets: Buckets;
  /** Stops taking requests and waits for those in flight. */
  stop(): Promise<void>;
}

/** Creates the streams and buckets if needed and starts serving. */
export async function startValidator(
  nc: NatsConnection,
  options: ValidatorOptions,
): Promise<Validator> {
  const { log } = options;
  const now = options.now ?? Date.now;
  const js = toJetStream(nc);
  await ensureStreams(js);
  const buckets = await ensureBuckets(js);
  const { vmis, status } = buckets;

  const apply = async (request: ApplyRequest, log: Logger): Promise<IApplyReply> => {
    const checked = checkManifest(request.manifestJson);
    if (!checked.ok) {
      log.info({ errors: checked.errors.length }, "apply rejected");
      return { rejected: { errors: checked.errors } };
    }
    const { key, namespace, name } = checked;
    const { dryRun } = request;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const stored = await readStored(vmis, key);
      const plan = planApply(checked, stored, { nowMs: now(), newUid: randomUUID });
      switch (plan.kind) {
        case "rejected":
          log.info({ key, errors: plan.errors.length }, "apply rejected");
          return { rejected: { errors: plan.errors } };
        case "unchanged": {
          const current = await readStatus(status, key, log);
          if (stored && current?.uid === plan.record.uid && current.phase === Phase.PHASE_FAILED) {
            // Applying a failed VMI again tries it again (say, after its image
            // was added), as a new generation of the same spec.
            const retry = {
              ...plan.record,
              generation: plan.record.generation + 1,
              acceptedUnixMs: now(),
            };
            if (dryRun) return acceptedReply(retry, Outcome.OUTCOME_UPDATED, true);
            try {
              await vmis.update(key, encode(VmiAccepted, retry), stored.revision);
            } catch (error) {
              if (!isWrongLastSequence(error)) throw error;
              await backoff(attempt, log, key);
              continue;
            }
            await publishAccepted(js, retry);
            log.info({ key, uid: retry.uid, generation: retry.generation }, "failed vmi retried");
            return acceptedReply(retry, Outcome.OUTCOME_UPDATED, false);
          }
          if (!dryRun) await republishIfUnseen(js, status, plan.record, log);
          return acceptedReply(plan.record, Outcome.OUTCOME_UNCHANGED, dryRun);
        }
        case "create":
          // A dry run assigns no uid.
          if (dryRun)
            return acceptedReply({ ...plan.record, uid: "" }, Outcome.OUTCOME_CREATED, true);
          try {
            await vmis.create(key, encode(VmiAccepted, plan.record));
          } catch (error) {
            // Someone else created it meanwhile: decide again against theirs.
            if (!isWrongLastSequence(error)) throw error;
            await backoff(attempt, log, key);
            continue;
          }
          await publishAccepted(js, plan.record);
          log.info({ key, uid: plan.record.uid, generation: 1 }, "vmi created");
          return acceptedReply(plan.record, Outcome.OUTCOME_CREATED, false);
        case "update":
          if (dryRun) return acceptedReply(plan.record, Outcome.OUTCOME_UPDATED, true);
          try {
            await vmis.update(key, encode(VmiAccepted, plan.record), plan.revision);
          } catch (error) {
            if (!isWrongLastSequence(error)) throw error;
            await backoff(attempt, log, key);
            continue;
          }
          await publishAccepted(js, plan.record);
          log.info(
            { key, uid: plan.record.uid, generation: plan.record.generation },
            "vmi updated",
          );
          return acceptedReply(plan.record, Outcome.OUTCOME_UPDATED, false);
      }
    }
    throw new ApiError(
      "CONFLICT",
      `vmi ${namespace}/${name} kept changing while it was applied; try again`,
    );
  };

  const remove = async (request: DeleteRequest, log: Logger) => {
    const { namespace, name } = identify(request);
    const key = storeKey(namespace, name);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const stored = await readStored(vmis, key);
      if (!stored) return { deleted: false, message: `vmi ${namespace}/${name} not found` };
      const { uid, generation } = stored.record;
      // Announce first: if the process dies before the KV delete, deleting
      // again finishes the job; the other order could strand a running domain.
      await js.publish(
        deletedSubject(namespace, name),
        encode(VmiDeleted, { namespace, name, uid, generation }),
        { msgID: deletedMsgId(uid) },
      );
      try {
        await vmis.delete(key, { previousSeq: stored.revision });
      } catch (error) {
        if (isWrongLastSequence(error)) {
          await backoff(attempt, log, key);
          continue;
        }
        throw error;
      }
      log.info({ key, uid }, "vmi deleted");
      return { deleted: true, uid, message: `vmi ${namespace}/${name} deleted` };
    }
    throw new ApiError(
      "CONFLICT",
      `vmi ${namespace}/${name} kept changing while it was deleted; try again`,
    );
  };

  const get = async (request: GetRequest) => {
    const { namespace, name } = identify(request);
    const key = storeKey(namespace, name);
    const stored = await readStored(vmis, key);
    if (!stored) return { found: false };
    return { found: true, vmi: toRecord(stored, await readStatus(status, key, log)) };
  };

  const list = async (request: ListRequest) => {
    const filter = request.namespace ? `${subjectToken(request.namespace)}.*` : ">";
    const keys: string[] = [];
    for await (const key of await vmis.keys(filter)) keys.push(key);
    const records = await Promise.all(
      keys.map(async (key) => {
        const stored = await readStored(vmis, key);
        return stored ? toRecord(stored, await readStatus(status, key, log)) : null;
      }),
    );
    const found = records.filter((record): record is IVmiRecord => record !== null);
    found.sort((a, b) => compare(a.namespace, b.namespace) || compare(a.name, b.name));
    return { vmis: found };
  };

  const micro = await startMicroService(nc, {
    name: SERVICE_NAMES.validator,
    version: options.version ?? "0.1.0",
    description: "validates VMIs, stores the accepted ones and hands them to the pipeline",
    ...(options.maxRequestBytes ? { maxRequestBytes: options.maxRequestBytes } : {}),
    log,
    endpoints: [
      endpoint({
        name: "apply",
        subject: API_SUBJECTS.apply,
        request: ApplyRequest,
        reply: ApplyReply,
        handler: (request, context) => apply(request, context.log),
      }),
      endpoint({
        name: "delete",
        subject: API_SUBJECTS.delete,
        request: DeleteRequest,
        reply: DeleteReply,
        handler: (request, context) => remove(request, context.log),
      }),
      endpoint({
        name: "get",
        subject: API_SUBJECTS.get,
        request: GetRequest,
        reply: GetReply,
        handler: (request) => get(request),
      }),
      endpoint({
        name: "list",
        subject: API_SUBJECTS.list,
        request: ListRequest,
        reply: ListReply,
        handler: (request) => list(request),
      }),
    ],
  });

  return { micro, buckets, stop: () => micro.stop() };
}

/** The stored VMI, or null when there is none (never created, or deleted). */
async function readStored(vmis: KV, key: string): Promise<StoredVmi | null> {
  const entry = await readEntry(vmis, key, VmiAccepted);
  if (!entry) return null;
  const record = entry.value;
  return { revision: entry.revision, record, vmi: JSON.parse(record.manifestJson) as Vmi };
}

async function readStatus(status: KV, key: string, log: Logger): Promise<VmiStatus | null> {
  try {
    return (await readEntry(status, key, VmiStatus))?.value ?? null;
  } catch (error) {
    log.warn({ key, err: error }, "unreadable status ignored");
    return null;
  }
}

async function publishAccepted(js: JetStreamClient, record: AcceptedRecord): Promise<void> {
  const { namespace, name, uid, generation } = record;
  await js.publish(acceptedSubject(namespace, name), encode(VmiAccepted, record), {
    msgID: generationMsgId(uid, generation),
  });
}

/**
 * Re-applying a VMI whose current generation no launcher has reported yet
 * publishes it again, under the same message id: within the duplicate window
 * that is a no-op, and it heals a create whose publish was lost (process died
 * between the KV write and the publish).
 */
async function republishIfUnseen(
  js: JetStreamClient,
  status: KV,
  record: AcceptedRecord,
  log: Logger,
) {
  const current = await readStatus(status, storeKey(record.namespace, record.name), log);
  if (current && current.uid === record.uid && current.observedGeneration >= record.generation)
    return;
  await publishAccepted(js, record);
}

function identify(request: { namespace: string; name: string }) {
  if (!request.name) throw new ApiError("BAD_REQUEST", "name is required");
  return { namespace: request.namespace || "default", name: request.name };
}

function acceptedReply(record: AcceptedRecord, outcome: Outcome, dryRun: boolean): IApplyReply {
  const { namespace, name, uid, generation, capacity } = record;
  return { accepted: { namespace, name, uid, generation, outcome, capacity, dryRun } };
}

function toRecord(stored: StoredVmi, status: VmiStatus | null): IVmiRecord {
  const { record } = stored;
  return {
    namespace: record.namespace,
    name: record.name,
    uid: record.uid,
    generation: record.generation,
    manifestJson: record.manifestJson,
    capacity: record.capacity ?? null,
    status,
    createdUnixMs: record.createdUnixMs,
    updatedUnixMs: record.acceptedUnixMs,
  };
}

function compare(a: string | null | undefined, b: string | null | undefined): number {
  return (a ?? "").localeCompare(b ?? "");
}
