// The validator micro service: apply/delete/get/list and the hot-plug API
// (addinterface/removeinterface) on the API subjects. Decisions come from
// apply.ts and @headroom/vmi; store.ts and records.ts do the I/O.

import {
  API_SUBJECTS,
  ApiError,
  type Buckets,
  deletedMsgId,
  deletedSubject,
  encode,
  endpoint,
  ensureBuckets,
  ensureImageObjects,
  ensureStreams,
  type KV,
  type Logger,
  type MicroService,
  mirrorBucket,
  type NatsConnection,
  retryCompareAndSet,
  retryTransient,
  SERVICE_NAMES,
  startMicroService,
  storeKey,
  subjectToken,
  toJetStream,
} from "@headroom/bus";
import {
  AddInterfaceRequest,
  ApplyReply,
  ApplyRequest,
  DeleteImageReply,
  DeleteImageRequest,
  DeleteReply,
  DeleteRequest,
  GetReply,
  GetRequest,
  type HostRecord,
  type IApplyReply,
  InterfaceReply,
  ListReply,
  ListRequest,
  RemoveInterfaceRequest,
  statusOnHost,
  VmiAccepted,
  VmiDeleted,
  VmiRecord,
} from "@headroom/proto";
import { DEFAULT_TERMINATION_GRACE_SECONDS } from "@headroom/vmi";
import type { StoredVmi } from "./apply.ts";
import { checkManifest } from "./apply.ts";
import { deleteImage } from "./images.ts";
import { addInterface, removeInterface } from "./interfaces.ts";
import { collectPage, keysAfter, labelFilter, pageLimit } from "./list_page.ts";
import { namespaceCounts } from "./namespace_counts.ts";
import { identify, readHost, readPlacement, readStatus, readStored, toRecord } from "./records.ts";
import { type StoreDeps, storeOnce } from "./store.ts";

export const DEFAULT_MAX_VMIS_PER_NAMESPACE = 1_000;

// A full bucket refuses every new message, delete markers too: new and changed
// VMIs stop short of it, so deleting always has room.
const STORE_FULL_FRACTION = 0.9;
const STORE_CHECK_MS = 5_000;

/** Throws UNAVAILABLE while the VMI bucket is past `fraction` of its bytes; looks every 5 s. */
function roomChecker(vmis: KV, fraction: number): () => Promise<void> {
  let checkedAt = Number.NEGATIVE_INFINITY;
  let full: { size: number; max: number } | null = null;
  return async () => {
    if (Date.now() - checkedAt > STORE_CHECK_MS) {
      const { size, streamInfo } = await vmis.status();
      const max = streamInfo.config.max_bytes;
      full = max > 0 && size >= fraction * max ? { size, max } : null;
      checkedAt = Date.now();
    }
    if (full)
      throw new ApiError(
        "UNAVAILABLE",
        `the VMI store is full (${full.size} of ${full.max} bytes): delete VMIs you no longer need, then try again`,
      );
  };
}

export interface ValidatorOptions {
  log: Logger;
  /** Reported in $SRV.INFO. */
  version?: string;
  /** Largest request accepted (default 1 MiB). */
  maxRequestBytes?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** VMIs one namespace may hold (default 1,000; 0 for no limit). */
  maxVmisPerNamespace?: number;
  /** How full the VMI bucket may get before new and changed VMIs are refused (default 0.9). */
  storeFullFraction?: number;
}

export interface Validator {
  micro: MicroService;
  buckets: Buckets;
  /** Stops taking requests and waits for those in flight. */
  stop(): Promise<void>;
  /** Resolves if the namespace counts stop following the VMI bucket (the quota would go stale). */
  lost: Promise<Error>;
}

/** Creates the streams and buckets if needed and starts serving. */
export async function startValidator(
  nc: NatsConnection,
  options: ValidatorOptions,
): Promise<Validator> {
  const js = toJetStream(nc);
  for (const difference of await ensureStreams(js)) options.log.warn(difference);
  const [buckets, imageObjects] = await Promise.all([ensureBuckets(js), ensureImageObjects(js)]);
  const { vmis, status, placements, hosts } = buckets;
  const quota = options.maxVmisPerNamespace ?? DEFAULT_MAX_VMIS_PER_NAMESPACE;
  // The stored VMIs, followed: the namespace quota counts them, and a create
  // of a name never seen skips reading the store first.
  const mirror = await mirrorBucket(vmis, VmiAccepted, options.log);
  const counts = namespaceCounts(mirror);
  const createWithinQuota = async (
    namespace: string,
    name: string,
    create: () => Promise<void>,
  ): Promise<string | null> =>
    (await counts.createWithin(namespace, name, quota, create))
      ? null
      : `namespace ${JSON.stringify(namespace)} already holds ${quota} VMIs, the most one may hold ` +
        "(HEADROOM_MAX_VMIS_PER_NAMESPACE); delete one first";
  const deps: StoreDeps = {
    js,
    vmis,
    status,
    now: options.now ?? Date.now,
    createWithinQuota,
    requireRoom: roomChecker(vmis, options.storeFullFraction ?? STORE_FULL_FRACTION),
  };

  const apply = async (request: ApplyRequest, log: Logger): Promise<IApplyReply> => {
    const checked = checkManifest(request.manifestJson);
    if (!checked.ok) {
      log.info({ errors: checked.errors.length }, "apply rejected");
      return { rejected: { errors: checked.errors } };
    }
    const { key, namespace, name } = checked;
    const reply = await retryCompareAndSet(
      async (attempt) => {
        // A name this validator has never seen is taken as absent on the first
        // try: if another replica made it meanwhile, the create fails and the
        // next try reads. A dry run writes nothing to fail, so it always reads.
        const unseen = attempt === 1 && !request.dryRun && !mirror.latest.has(key);
        const stored = unseen ? null : await readStored(vmis, key);
        return storeOnce(deps, checked, stored, request.dryRun, log);
      },
      {
        gaveUp: () =>
          new ApiError(
            "CONFLICT",
            `vmi ${namespace}/${name} kept changing while it was applied; try again`,
          ),
        onLost: (attempt) =>
          log.debug({ key, attempt }, "lost a compare-and-set race, deciding again"),
      },
    );
    // As kubectl shows a server's warnings: the fields that have no effect here.
    if (reply.accepted) reply.accepted.warnings = checked.warnings;
    return reply;
  };

  const remove = async (request: DeleteRequest, log: Logger) => {
    const { namespace, name } = identify(request);
    const key = storeKey(namespace, name);
    return retryCompareAndSet(
      async () => {
        const stored = await readStored(vmis, key);
        if (!stored) return { deleted: false, message: `vmi ${namespace}/${name} not found` };
        const { uid, generation } = stored.record;
        // A VMI stored by an earlier headroom has none: KubeVirt's default.
        const terminationGracePeriodSeconds =
          stored.vmi?.spec?.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
        // Announce first: if the process dies before the KV delete, deleting
        // again finishes the job; the other order could strand a running domain.
        await js.publish(
          deletedSubject(namespace, name),
          encode(VmiDeleted, { namespace, name, uid, generation, terminationGracePeriodSeconds }),
          { msgID: deletedMsgId(uid) },
        );
        await vmis.delete(key, { previousSeq: stored.revision });
        log.info({ key, uid }, "vmi deleted");
        return { deleted: true, uid, message: `vmi ${namespace}/${name} deleted` };
      },
      {
        gaveUp: () =>
          new ApiError(
            "CONFLICT",
            `vmi ${namespace}/${name} kept changing while it was deleted; try again`,
          ),
        onLost: (attempt) =>
          log.debug({ key, attempt }, "lost a compare-and-set race, deciding again"),
      },
    );
  };

  /**
   * The VMI as users see it: its status as its host's state makes it (Unknown,
   * NodeLost). One request reads each host once, however many VMIs it holds.
   */
  const view = async (
    stored: StoredVmi,
    key: string,
    log: Logger,
    hostsRead = new Map<string, Promise<HostRecord | null>>(),
  ) => {
    const [current, placement] = await Promise.all([
      readStatus(status, key, log),
      readPlacement(placements, key, log),
    ]);
    const node = current?.node ?? "";
    if (node && !hostsRead.has(node)) hostsRead.set(node, readHost(hosts, node, log));
    const host = node ? await hostsRead.get(node) : null;
    return toRecord(stored, current && statusOnHost(current, host ?? null, deps.now()), placement);
  };

  const get = async (request: GetRequest, log: Logger) => {
    const { namespace, name } = identify(request);
    const key = storeKey(namespace, name);
    const stored = await readStored(vmis, key);
    if (!stored) return { found: false };
    return { found: true, vmi: await view(stored, key, log) };
  };

  const list = async (request: ListRequest, log: Logger) => {
    const selected = labelFilter(request.labelSelector);
    const filter = request.namespace ? `${subjectToken(request.namespace)}.*` : ">";
    const all: string[] = [];
    for await (const key of await vmis.keys(filter)) all.push(key);
    const hostsRead = new Map<string, Promise<HostRecord | null>>();
    const read = async (key: string) => {
      const stored = await readStored(vmis, key);
      if (!stored || !selected(stored.vmi.metadata.labels)) return null;
      return view(stored, key, log, hostsRead);
    };
    const page = await collectPage(
      keysAfter(all, request.continueToken),
      pageLimit(request.limit),
      read,
      (record) => VmiRecord.encode(record).finish().length,
    );
    return { vmis: page.items, continueToken: page.continueToken };
  };

  const micro = await startMicroService(nc, {
    name: SERVICE_NAMES.validator,
    version: options.version ?? "0.1.0",
    description: "validates VMIs, stores the accepted ones and hands them to the pipeline",
    ...(options.maxRequestBytes ? { maxRequestBytes: options.maxRequestBytes } : {}),
    log: options.log,
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
        // Reads are repeated while a cluster server is being replaced.
        handler: (request, context) => retryTransient(() => get(request, context.log)),
      }),
      endpoint({
        name: "list",
        subject: API_SUBJECTS.list,
        request: ListRequest,
        reply: ListReply,
        handler: (request, context) => retryTransient(() => list(request, context.log)),
      }),
      endpoint({
        name: "addinterface",
        subject: API_SUBJECTS.addInterface,
        request: AddInterfaceRequest,
        reply: InterfaceReply,
        handler: (request, context) => addInterface(deps, request, context.log),
      }),
      endpoint({
        name: "removeinterface",
        subject: API_SUBJECTS.removeInterface,
        request: RemoveInterfaceRequest,
        reply: InterfaceReply,
        handler: (request, context) => removeInterface(deps, request, context.log),
      }),
      endpoint({
        name: "image-delete",
        subject: API_SUBJECTS.deleteImage,
        request: DeleteImageRequest,
        reply: DeleteImageReply,
        handler: (request, context) => deleteImage(imageObjects, vmis, request, context.log),
      }),
    ],
  });

  return {
    micro,
    buckets,
    lost: mirror.lost,
    async stop() {
      await micro.stop();
      mirror.stop();
    },
  };
}
