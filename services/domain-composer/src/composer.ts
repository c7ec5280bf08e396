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
  consume,
  DecodeError,
  DURABLES,
  decode,
  encode,
  endpoint,
  ensureBuckets,
  ensureStreams,
  errorText,
  type JsMsg,
  type KV,
  type Logger,
  type MicroService,
  type NatsConnection,
  PIPELINE_FILTERS,
  planMsgId,
  planSubject,
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
  CreateNetworkReply,
  CreateNetworkRequest,
  DeleteNetworkReply,
  DeleteNetworkRequest,
  DomainPlan,
  type ICreateNetworkReply,
  type IDeleteNetworkReply,
  type IListNetworksReply,
  ListNetworksReply,
  ListNetworksRequest,
  NetworkAttachment,
  VmiAccepted,
} from "@headroom/proto";
import type { Vmi } from "@headroom/vmi";
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

  /** Publishes a plan; true when the stream already had it (composed again). */
  const publishPlan = async (plan: ComposedPlan | FailedPlan) => {
    const ack = await js.publish(planSubject(plan.namespace, plan.name), encode(DomainPlan, plan), {
      msgID: planMsgId(plan.uid, plan.generation),
    });
    return ack.duplicate;
  };

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
    if (!result.ok) {
      const duplicate = await publishPlan(failedPlan(input, result.domainName, result.reason));
      vlog.warn({ reason: result.reason, duplicate }, "vmi cannot be composed; failure handed on");
      return;
    }
    const { plan } = result;
    const duplicate = await publishPlan(plan);
    vlog.info(
      {
        domain: plan.domainName,
        placeholders: plan.placeholderCount,
        disks: plan.diskFiles.length,
        bridges: plan.bridges,
        duplicate,
      },
      duplicate ? "plan composed again; already published" : "plan published",
    );
  };

  /** A message that kept failing (NATS trouble): the VMI fails rather than waiting silently. */
  const giveUp = async (msg: JsMsg, error: unknown) => {
    if (error instanceof DecodeError) return;
    const { namespace, name, uid, generation } = decode(VmiAccepted, msg.data);
    const vmi = { namespace, name, uid, generation: Number(generation) };
    const reason = `the domain could not be composed: ${errorText(error)}`;
    await publishPlan(failedPlan(vmi, "", reason));
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

  let loop: ConsumerLoop;
  try {
    loop = await consume(
      js,
      STREAMS.pipeline,
      DURABLES.composerAccepted,
      PIPELINE_FILTERS.accepted,
      async (msg) => {
        const accepted = decode(VmiAccepted, msg.data);
        await handleAccepted(accepted, msg.info.deliveryCount);
      },
      {
        log,
        maxDeliver: options.maxDeliver ?? 20,
        ...(options.retryDelayMs ? { retryDelayMs: options.retryDelayMs } : {}),
        onGiveUp: giveUp,
      },
    );
  } catch (error) {
    await micro.stop();
    throw error;
  }
  log.info({ filter: PIPELINE_FILTERS.accepted }, "composer consuming accepted VMIs");

  return {
    micro,
    buckets,
    lost: loop.lost,
    async stop() {
      await micro.stop();
      await loop.stop();
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
