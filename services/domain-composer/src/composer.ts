// The domain composer's I/O: accepted VMIs become plans on their hosts (decided
// in compose_plan.ts and placement.ts). A VMI that cannot be composed is handed
// on too, as a plan that carries the reason: the launcher alone writes statuses.
import {
  type Buckets,
  type ConsumerLoop,
  consume,
  DecodeError,
  DURABLES,
  decode,
  ensureBuckets,
  ensureStreams,
  errorText,
  type JsMsg,
  type Logger,
  type MicroService,
  type NatsConnection,
  PIPELINE_FILTERS,
  SERVICE_NAMES,
  STREAMS,
  startMicroService,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import { hostState } from "@headroom/host-state";
import { imageFilePath } from "@headroom/images";
import { InterfaceRefused, VmiAccepted, VmiDeleted } from "@headroom/proto";
import { guestResources, type Vmi } from "@headroom/vmi";
import {
  type AcceptedVmi,
  type ComposedPlan,
  composePlan,
  type HostLookups,
} from "./compose_plan.ts";
import { hostRouting } from "./host_routing.ts";
import { openNetworkApi } from "./network_api.ts";
import { type Demand, demandOf } from "./placement.ts";
import { openPlacements } from "./placements.ts";
import { readStoredVmi } from "./stored_vmis.ts";

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
  const { vmis } = buckets;

  const networkApi = await openNetworkApi(buckets, now, log);
  const lookups: HostLookups = {
    imageFile: (image, pathInImage) => imageFilePath(state.images, image, pathInImage),
    bridgeOf: networkApi.bridgeOf,
    consoleLog: state.consoleLog,
    volumeFile: state.volumeFile,
    seedFile: state.seedFile,
    nvramFile: state.nvramFile,
    volumeDisk: state.volumeDisk,
  };

  const placements = await openPlacements(buckets, log, now);
  const routing = hostRouting({ js, placements, log, now });

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
    const duplicate = await routing.handPlan(choice.node, plan);
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

  /** A message that kept failing (NATS trouble): the VMI fails rather than waiting silently. */
  const giveUp = async (msg: JsMsg, error: unknown) => {
    if (error instanceof DecodeError) return;
    const { namespace, name, uid, generation } = decode(VmiAccepted, msg.data);
    const vmi = { namespace, name, uid, generation: Number(generation) };
    const reason = `the domain could not be composed: ${errorText(error)}`;
    const choice = await placements.place(storeKey(namespace, name), uid, NO_DEMAND);
    if ("pending" in choice) return;
    await routing.handPlan(choice.node, failedPlan(vmi, "", reason));
  };

  const micro = await startMicroService(nc, {
    name: SERVICE_NAMES.composer,
    version: options.version ?? "0.1.0",
    description: "composes libvirt domains for accepted VMIs; serves network attachments",
    log,
    endpoints: networkApi.endpoints,
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
        (msg) => routing.handleDeleted(decode(VmiDeleted, msg.data)),
        retries,
      ),
      consume(
        js,
        STREAMS.pipeline,
        DURABLES.composerRefused,
        PIPELINE_FILTERS.refused,
        (msg) => routing.handleRefused(decode(InterfaceRefused, msg.data)),
        retries,
      ),
    ]);
  } catch (error) {
    routing.stop();
    await micro.stop();
    placements.stop();
    networkApi.stop();
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
    lost: Promise.race([placements.lost, networkApi.lost, ...loops.map((loop) => loop.lost)]),
    async stop() {
      routing.stop();
      await micro.stop();
      await Promise.all(loops.map((loop) => loop.stop()));
      placements.stop();
      networkApi.stop();
    },
  };
}

/** The plan of a generation that cannot be composed: whose it is, and why. */
export type FailedPlan = Pick<
  ComposedPlan,
  "namespace" | "name" | "uid" | "generation" | "domainName"
> & {
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
