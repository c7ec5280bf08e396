// The domain composer: turns accepted VMIs into domain plans, and serves the
// network attachment API. Decisions come from compose_plan.ts and
// network_rules.ts; this file does the I/O (NATS, KV, the image store). A VMI
// that cannot be composed is handed on too, as a plan that carries the
// reason: the launcher alone writes statuses.
import {
  API_SUBJECTS,
  ApiError,
  type Buckets,
  type ConsumerLoop,
  capacitySubject,
  consume,
  DecodeError,
  DURABLES,
  decode,
  deletedMsgId,
  encode,
  endpoint,
  ensureBuckets,
  ensureStreams,
  errorText,
  type HostWorkKind,
  hostWorkSubject,
  type JsMsg,
  type KV,
  type Logger,
  type MicroService,
  type NatsConnection,
  PIPELINE_FILTERS,
  parseStoreKey,
  planMsgId,
  readEntry,
  retryCompareAndSet,
  SERVICE_NAMES,
  STREAMS,
  startMicroService,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import { hostState } from "@headroom/host-state";
import { imageFilePath } from "@headroom/images";
import {
  CapacityEvent,
  CapacityEventType,
  CreateNetworkReply,
  CreateNetworkRequest,
  DeleteNetworkReply,
  DeleteNetworkRequest,
  DomainPlan,
  type ICreateNetworkReply,
  type IDeleteNetworkReply,
  type IListNetworksReply,
  InterfaceRefused,
  ListNetworksReply,
  ListNetworksRequest,
  NetworkAttachment,
  VmiAccepted,
  VmiDeleted,
} from "@headroom/proto";
import { guestResources, type Vmi } from "@headroom/vmi";
import {
  type AcceptedVmi,
  type ComposedPlan,
  composePlan,
  type HostLookups,
} from "./compose_plan.ts";
import {
  decideCreate,
  inUseMessage,
  networkNameProblem,
  networksUsedBy,
  notFoundMessage,
} from "./network_rules.ts";
import { type Demand, demandOf } from "./placement.ts";
import { openPlacements } from "./placements.ts";

export interface ComposerOptions {
  log: Logger;
  /** Reported in $SRV.INFO. */
  version?: string;
  /** Where HEADROOM_STATE_DIR comes from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Clock, for tests. */
  now?: () => number;
  /** Deliveries of an accepted VMI before passing trouble (NATS) counts as failure. Default 20. */
  maxDeliver?: number;
  /** Wait before redelivering after failure number n. Default 1 s, doubling, at most 30 s. */
  retryDelayMs?: (deliveryCount: number) => number;
}

export interface Composer {
  micro: MicroService;
  buckets: Buckets;
  /** Stops taking requests and accepted VMIs; waits for the work in hand. */
  stop(): Promise<void>;
  /** Resolves if the composer stopped taking accepted VMIs by itself (see ConsumerLoop.lost). */
  lost: Promise<Error>;
}

/** Creates the streams and buckets if needed, serves the network API and composes accepted VMIs. */
export async function startComposer(
  nc: NatsConnection,
  options: ComposerOptions,
): Promise<Composer> {
  const { log } = options;
  const now = options.now ?? Date.now;
  const state = hostState(options.env);
  const js = toJetStream(nc);
  for (const difference of await ensureStreams(js)) options.log.warn(difference);
  const buckets = await ensureBuckets(js);
  const { vmis, networks } = buckets;

  const lookups: HostLookups = {
    imageFile: (image, pathInImage) => imageFilePath(state.images, image, pathInImage),
    async bridgeOf(name) {
      const stored = await readNetwork(networks, name);
      return stored?.attachment.bridge || null;
    },
    consoleLog: state.consoleLog,
    volumeFile: state.volumeFile,
    seedFile: state.seedFile,
    nvramFile: state.nvramFile,
    volumeDisk: state.volumeDisk,
  };

  const placements = await openPlacements(buckets, log, now);

  /** Hands a host its work; true when the stream already had it (handed on again). */
  const handTo = async (
    node: string,
    kind: HostWorkKind,
    vmi: { namespace: string; name: string },
    data: Uint8Array,
    msgID: string,
  ) => {
    const ack = await js.publish(hostWorkSubject(node, kind, vmi.namespace, vmi.name), data, {
      msgID,
    });
    return ack.duplicate;
  };

  /** Hands a host the plan of one generation (the composed one, or one that says why not). */
  const handPlan = (node: string, plan: ComposedPlan | FailedPlan) =>
    handTo(node, "plan", plan, encode(DomainPlan, plan), planMsgId(plan.uid, plan.generation));

  const handleAccepted = async (accepted: VmiAccepted, attempt: number) => {
    const { namespace, name, uid } = accepted;
    const generation = Number(accepted.generation);
    const key = storeKey(namespace, name);
    const vlog = log.child({ vmi: `${namespace}/${name}`, uid, generation, attempt });
    const input: AcceptedVmi = {
      namespace,
      name,
      uid,
      generation,
      manifestJson: accepted.manifestJson,
    };
    // Composing only reads; it runs while the stored VMI is read, and its
    // result is dropped when the VMI changed meanwhile.
    const [stored, result] = await Promise.all([
      readStoredVmi(vmis, key),
      composePlan(input, lookups),
    ]);
    if (stored?.uid !== uid) {
      vlog.info("accepted VMI dropped: it was deleted or replaced meanwhile");
      return;
    }
    if (Number(stored.generation) !== generation) {
      vlog.info(
        { stored: Number(stored.generation) },
        "accepted VMI dropped: it is not the stored generation",
      );
      return;
    }
    // A VMI that cannot be composed is placed too, needing nothing: its
    // host's launcher is the one that writes its Failed status.
    const plan = result.ok ? result.plan : failedPlan(input, result.domainName, result.reason);
    const choice = await placements.place(key, uid, result.ok ? demandFrom(input) : NO_DEMAND);
    if ("pending" in choice) {
      vlog.info({ reason: choice.pending }, "vmi pending: no host can run it");
      return;
    }
    const duplicate = await handPlan(choice.node, plan);
    if (!result.ok) {
      vlog.warn(
        { reason: result.reason, node: choice.node, duplicate },
        "vmi cannot be composed; failure handed on",
      );
      return;
    }
    vlog.info(
      {
        node: choice.node,
        domain: result.plan.domainName,
        placeholders: result.plan.placeholderCount,
        disks: result.plan.diskFiles.length,
        bridges: result.plan.bridges,
        duplicate,
      },
      duplicate ? "plan composed again; already published" : "plan published",
    );
    // Deleted while it was placed: the deletion may have found no placement to release.
    if ((await readStoredVmi(vmis, key))?.uid !== uid) await placements.release(key, uid);
  };

  /** A deleted VMI's host releases it; a Pending one just stops waiting. */
  const handleDeleted = async (deleted: VmiDeleted) => {
    const { namespace, name, uid } = deleted;
    const vlog = log.child({ vmi: `${namespace}/${name}`, uid });
    const node = await placements.nodeOf(storeKey(namespace, name), uid);
    if (node) {
      const duplicate = await handTo(
        node,
        "release",
        deleted,
        encode(VmiDeleted, deleted),
        deletedMsgId(uid),
      );
      vlog.info({ node, duplicate }, "deletion handed to its host");
    } else vlog.info("deleted before it was placed: no host to tell");
    await placements.release(storeKey(namespace, name), uid);
  };

  /** A refused hot-plug is recorded by the launcher of the VMI's host. */
  const handleRefused = async (refused: InterfaceRefused) => {
    const { namespace, name, uid } = refused;
    const node = await placements.nodeOf(storeKey(namespace, name), uid);
    const rlog = log.child({ vmi: `${namespace}/${name}`, uid, interface: refused.interfaceName });
    if (!node) {
      rlog.info("refused hot-plug of a VMI not placed (Pending or gone): nothing to record");
      return;
    }
    await handTo(node, "refused", refused, encode(InterfaceRefused, refused), refused.refusalId);
    rlog.info({ node }, "refused hot-plug handed to its host");
  };

  /** Pending VMIs are placed again when a host joins, changes or frees room. */
  const placePending = async () => {
    for (const { key, uid } of placements.pending()) {
      const stored = await readStoredVmi(vmis, key).catch(() => null);
      if (stored?.uid !== uid) continue;
      await handleAccepted(stored, 0).catch((error: unknown) =>
        log.warn(
          { vmi: key, err: error },
          "placing a pending VMI failed; tried again on the next change",
        ),
      );
    }
  };
  placements.onRoomChange(() => void placePending());

  // A VMI whose host is lost is Failed, NodeLost (readers derive it from the
  // host's record); its capacity event says so, once per loss.
  const told = new Set<string>();
  const tellLost = async () => {
    for (const { key, placement, loss } of placements.onLostHosts(now())) {
      const msgID = `${placement.uid}:node-lost:${loss.sinceUnixMs}`;
      if (told.has(msgID)) continue;
      const { namespace, name } = parseStoreKey(key);
      const event = CapacityEvent.create({
        type: CapacityEventType.CAPACITY_EVENT_TYPE_NODE_LOST,
        namespace,
        name,
        uid: placement.uid,
        node: placement.node,
        message: loss.reason,
        timestampUnixMs: now(),
      });
      await js.publish(capacitySubject(namespace, name), encode(CapacityEvent, event), { msgID });
      told.add(msgID);
      log.warn(
        { vmi: `${namespace}/${name}`, uid: placement.uid, node: placement.node },
        loss.reason,
      );
    }
  };
  const lostTimer = setInterval(
    () =>
      void tellLost().catch((error: unknown) =>
        log.warn({ err: error }, "telling of lost hosts failed; tried again in a moment"),
      ),
    LOST_HOSTS_CHECK_MS,
  );

  /** A message that kept failing (NATS trouble): the VMI fails rather than waiting silently. */
  const giveUp = async (msg: JsMsg, error: unknown) => {
    if (error instanceof DecodeError) return;
    const { namespace, name, uid, generation } = decode(VmiAccepted, msg.data);
    const vmi = { namespace, name, uid, generation: Number(generation) };
    const reason = `the domain could not be composed: ${errorText(error)}`;
    const choice = await placements.place(storeKey(namespace, name), uid, NO_DEMAND);
    if ("pending" in choice) return;
    await handPlan(choice.node, failedPlan(vmi, "", reason));
  };

  const createNetwork = async (
    request: CreateNetworkRequest,
    rlog: Logger,
  ): Promise<ICreateNetworkReply> => {
    const wanted = { name: request.name ?? "", bridge: request.bridge ?? "" };
    const first = decideCreate(wanted, null);
    if (first.kind === "invalid") return { error: first.error };
    return retryCompareAndSet(
      async (): Promise<ICreateNetworkReply> => {
        const stored = await readNetwork(networks, wanted.name);
        const decision = decideCreate(wanted, stored?.live ? stored.attachment : null);
        switch (decision.kind) {
          case "invalid":
          case "conflict":
            rlog.info({ network: wanted.name, reason: decision.error }, "network create refused");
            return { error: decision.error };
          case "unchanged":
            return { unchanged: stored?.attachment ?? null };
          case "create": {
            // Someone else may create it meanwhile: then this write loses and
            // the decision is made again against theirs.
            const attachment = { ...wanted, createdUnixMs: now() };
            const data = encode(NetworkAttachment, attachment);
            if (stored) await networks.update(wanted.name, data, stored.revision);
            else await networks.create(wanted.name, data);
            rlog.info(attachment, "network created");
            return { created: attachment };
          }
        }
      },
      {
        gaveUp: () =>
          new ApiError("CONFLICT", `network ${wanted.name} kept changing while it was created`),
      },
    );
  };

  const deleteNetwork = async (
    request: DeleteNetworkRequest,
    rlog: Logger,
  ): Promise<IDeleteNetworkReply> => {
    const name = request.name ?? "";
    const problem = networkNameProblem(name);
    if (problem) return { deleted: false, message: problem };
    return retryCompareAndSet(
      async (): Promise<IDeleteNetworkReply> => {
        const stored = await readNetwork(networks, name);
        if (!stored?.live) return { deleted: false, message: notFoundMessage(name) };
        const users = await vmisUsing(vmis, name);
        if (users.length > 0) {
          const message = inUseMessage(name, users);
          rlog.info({ network: name, usedBy: users }, "network delete refused: in use");
          return { deleted: false, message, usedBy: users };
        }
        await networks.delete(name, { previousSeq: stored.revision });
        rlog.info({ network: name, bridge: stored.attachment.bridge }, "network deleted");
        return { deleted: true, message: `network attachment '${name}' deleted` };
      },
      {
        gaveUp: () =>
          new ApiError("CONFLICT", `network ${name} kept changing while it was deleted`),
      },
    );
  };

  const listNetworks = async (): Promise<IListNetworksReply> => {
    const found: NetworkAttachment[] = [];
    for (const name of await keysOf(networks)) {
      const stored = await readNetwork(networks, name).catch(() => null);
      if (stored?.live) found.push(stored.attachment);
    }
    found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { networks: found };
  };

  const micro = await startMicroService(nc, {
    name: SERVICE_NAMES.composer,
    version: options.version ?? "0.1.0",
    description: "composes libvirt domains for accepted VMIs; serves network attachments",
    log,
    endpoints: [
      endpoint({
        name: "network-create",
        subject: API_SUBJECTS.createNetwork,
        request: CreateNetworkRequest,
        reply: CreateNetworkReply,
        handler: (request, context) => createNetwork(request, context.log),
      }),
      endpoint({
        name: "network-delete",
        subject: API_SUBJECTS.deleteNetwork,
        request: DeleteNetworkRequest,
        reply: DeleteNetworkReply,
        handler: (request, context) => deleteNetwork(request, context.log),
      }),
      endpoint({
        name: "network-list",
        subject: API_SUBJECTS.listNetworks,
        request: ListNetworksRequest,
        reply: ListNetworksReply,
        handler: () => listNetworks(),
      }),
    ],
  });

  let loops: ConsumerLoop[];
  try {
    const retries = {
      log,
      maxDeliver: options.maxDeliver ?? 20,
      ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
    };
    loops = await Promise.all([
      consume(
        js,
        STREAMS.pipeline,
        DURABLES.composerAccepted,
        PIPELINE_FILTERS.accepted,
        (msg) => handleAccepted(decode(VmiAccepted, msg.data), msg.info.deliveryCount),
        { ...retries, onGiveUp: giveUp },
      ),
      consume(
        js,
        STREAMS.pipeline,
        DURABLES.composerDeleted,
        PIPELINE_FILTERS.deleted,
        (msg) => handleDeleted(decode(VmiDeleted, msg.data)),
        retries,
      ),
      consume(
        js,
        STREAMS.pipeline,
        DURABLES.composerRefused,
        PIPELINE_FILTERS.refused,
        (msg) => handleRefused(decode(InterfaceRefused, msg.data)),
        retries,
      ),
    ]);
  } catch (error) {
    clearInterval(lostTimer);
    await micro.stop();
    placements.stop();
    throw error;
  }
  log.info(
    { filters: [PIPELINE_FILTERS.accepted, PIPELINE_FILTERS.deleted, PIPELINE_FILTERS.refused] },
    "composer placing accepted VMIs and routing deletions and refusals to their hosts",
  );
  // VMIs left Pending by an earlier composer may fit now.
  void placePending();

  return {
    micro,
    buckets,
    lost: Promise.race([placements.lost, ...loops.map((loop) => loop.lost)]),
    async stop() {
      clearInterval(lostTimer);
      await micro.stop();
      await Promise.all(loops.map((loop) => loop.stop()));
      placements.stop();
    },
  };
}

/** The plan of a generation that cannot be composed: whose it is, and why. */
type FailedPlan = Pick<ComposedPlan, "namespace" | "name" | "uid" | "generation" | "domainName"> & {
  composeFailure: string;
};

function failedPlan(
  vmi: { namespace: string; name: string; uid: string; generation: number },
  domainName: string,
  reason: string,
): FailedPlan {
  const { namespace, name, uid, generation } = vmi;
  return { namespace, name, uid, generation, domainName, composeFailure: reason };
}

/** How often the composer looks for VMIs on lost hosts. */
const LOST_HOSTS_CHECK_MS = 1000;

/** What a VMI whose composition failed asks of a host: nothing, only its launcher. */
const NO_DEMAND: Demand = {
  memoryBytes: 0,
  machineType: "",
  nodeSelector: {},
  nodeAffinity: undefined,
};

/** What a composed VMI asks of its host (composition already checked the manifest). */
function demandFrom(accepted: AcceptedVmi): Demand {
  const vmi = JSON.parse(accepted.manifestJson) as Vmi;
  const guest = guestResources(vmi);
  if (!guest.ok) return demandOf(vmi, 0, "");
  return demandOf(vmi, guest.resources.memoryKiB * 1024, guest.resources.machineType);
}

/** The stored VMI record, or null once deleted. */
async function readStoredVmi(vmis: KV, key: string): Promise<VmiAccepted | null> {
  return (await readEntry(vmis, key, VmiAccepted))?.value ?? null;
}

/** A network attachment entry: its revision (for compare-and-set) and, when not deleted, its value. */
async function readNetwork(
  networks: KV,
  name: string,
): Promise<{ revision: number; live: boolean; attachment: NetworkAttachment } | null> {
  const entry = await networks.get(name);
  if (!entry) return null;
  if (entry.operation !== "PUT")
    return {
      revision: entry.revision,
      live: false,
      attachment: NetworkAttachment.create({ name, bridge: "", createdUnixMs: 0 }),
    };
  try {
    return {
      revision: entry.revision,
      live: true,
      attachment: decode(NetworkAttachment, entry.value),
    };
  } catch (error) {
    throw new Error(`network attachment '${name}' is stored unreadably: ${errorText(error)}`);
  }
}

async function keysOf(kv: KV): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  return keys;
}

/** The stored VMIs ("<namespace>/<name>", sorted) whose networks join `network`. */
async function vmisUsing(vmis: KV, network: string): Promise<string[]> {
  const users: string[] = [];
  for (const key of await keysOf(vmis)) {
    const stored = await readStoredVmi(vmis, key).catch(() => null);
    if (!stored) continue;
    let vmi: Vmi;
    try {
      vmi = JSON.parse(stored.manifestJson) as Vmi;
    } catch {
      continue;
    }
    if (networksUsedBy(vmi).includes(network)) users.push(`${stored.namespace}/${stored.name}`);
  }
  return users.sort();
}
