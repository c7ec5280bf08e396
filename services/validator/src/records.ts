// The validator's reads and writes of state: the stored VMI, its status (the
// launcher's word, read only), and the accepted hand-off to the pipeline.
import {
  ApiError,
  acceptedSubject,
  encode,
  generationMsgId,
  type JetStreamClient,
  type KV,
  type Logger,
  readEntry,
  storeKey,
  subjectToken,
} from "@headroom/bus";
import {
  HostRecord,
  type IApplyReply,
  type IVmiRecord,
  type IVmiStatus,
  type Outcome,
  Placement,
  VmiAccepted,
  VmiStatus,
} from "@headroom/proto";
import type { Vmi } from "@headroom/vmi";
import type { AcceptedRecord, StoredVmi } from "./apply.ts";

/** The stored VMI, or null when there is none (never created, or deleted). */
export async function readStored(vmis: KV, key: string): Promise<StoredVmi | null> {
  const entry = await readEntry(vmis, key, VmiAccepted);
  if (!entry) return null;
  const record = entry.value;
  return { revision: entry.revision, record, vmi: JSON.parse(record.manifestJson) as Vmi };
}

export async function readStatus(status: KV, key: string, log: Logger): Promise<VmiStatus | null> {
  try {
    return (await readEntry(status, key, VmiStatus))?.value ?? null;
  } catch (error) {
    log.warn({ key, err: error }, "unreadable status ignored");
    return null;
  }
}

/** A host's record (null when it has none, or it is unreadable). */
export async function readHost(hosts: KV, node: string, log: Logger): Promise<HostRecord | null> {
  try {
    return (await readEntry(hosts, subjectToken(node), HostRecord))?.value ?? null;
  } catch (error) {
    log.warn({ node, err: error }, "unreadable host record ignored");
    return null;
  }
}

/** Where the composer placed the VMI (or why it could not), null when it has not yet. */
export async function readPlacement(
  placements: KV,
  key: string,
  log: Logger,
): Promise<Placement | null> {
  try {
    return (await readEntry(placements, key, Placement))?.value ?? null;
  } catch (error) {
    log.warn({ key, err: error }, "unreadable placement ignored");
    return null;
  }
}

export async function publishAccepted(js: JetStreamClient, record: AcceptedRecord): Promise<void> {
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
export async function republishIfUnseen(
  js: JetStreamClient,
  status: KV,
  record: AcceptedRecord,
  log: Logger,
): Promise<void> {
  const current = await readStatus(status, storeKey(record.namespace, record.name), log);
  if (current && current.uid === record.uid && current.observedGeneration >= record.generation)
    return;
  await publishAccepted(js, record);
}

export function acceptedReply(
  record: AcceptedRecord,
  outcome: Outcome,
  dryRun: boolean,
): IApplyReply {
  const { namespace, name, uid, generation, capacity } = record;
  return { accepted: { namespace, name, uid, generation, outcome, capacity, dryRun } };
}

export function toRecord(
  stored: StoredVmi,
  status: IVmiStatus | null,
  placement: Placement | null = null,
): IVmiRecord {
  const { record } = stored;
  const placed = placement?.uid === record.uid ? placement : null;
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
    node: placed?.node ?? "",
    pendingReason: placed?.pendingReason ?? "",
  };
}

export function identify(request: { namespace: string; name: string }) {
  if (!request.name) throw new ApiError("BAD_REQUEST", "name is required");
  return { namespace: request.namespace || "default", name: request.name };
}
