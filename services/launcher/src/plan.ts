// Carrying out a DomainPlan: the first generation launches the domain with
// the room its VMI asked for; a later one brings a running domain's NICs in
// line with the plan. Each ends in a status and capacity events. A plan that
// carries a compose failure only ends in a Failed status.
import { errorText, type Logger, storeKey } from "@headroom/bus";
import { type LaunchResult, launchDomain } from "@headroom/domain-manager";
import { DEFAULT_NIC_MODEL, NIC_MODELS, type NicModel, withVirtType } from "@headroom/domain-xml";
import { domainUuidOf } from "@headroom/host-state";
import { type DomainPlan, type IVmiStatus, Phase, type VmiAccepted } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import {
  CapacityEventType,
  type PlanFacts,
  publishEvent,
  reservedReported,
  statusOf,
} from "./events.ts";
import { syncForwards } from "./forwarding.ts";
import { recordImagesUsed } from "./image_prune.ts";
import { ImageUnavailableError, type LookedUp } from "./images.ts";
import { reconcileInterfaces } from "./interfaces.ts";
import { reportNicChanges } from "./nic_changes.ts";
import { planProblems } from "./plan_check.ts";
import { prepareHost } from "./prepare_host.ts";
import { LibvirtUnavailableError } from "./reconnect.ts";
import { failedStatus, type StatusBase, scheduledStatus } from "./records.ts";
import { claimPlanVolumes, stopWaiting, waitForVolumes } from "./volumes.ts";

/** What a plan's execution leaves to do afterwards. */
export interface PlanOutcome {
  /** NICs the VMI dropped that the guest still holds: ask again later. */
  kept: string[];
}

const NOTHING_LEFT: PlanOutcome = { kept: [] };

export async function executePlan(ctx: LauncherContext, plan: DomainPlan): Promise<PlanOutcome> {
  // No prune removes an image while a plan holds it and before its record is written.
  const releaseImages = await ctx.imageLock.shared();
  try {
    return await carryOut(ctx, plan, releaseImages);
  } finally {
    releaseImages();
  }
}

async function carryOut(
  ctx: LauncherContext,
  plan: DomainPlan,
  releaseImages: () => void,
): Promise<PlanOutcome> {
  const { namespace, name, uid } = plan;
  const generation = Number(plan.generation);
  const key = storeKey(namespace, name);
  const log = ctx.log.child({ vmi: `${namespace}/${name}`, uid, generation });
  // Only reads, like the two beside it; its answer waits until the plan is known current.
  const lookingUp = ctx.images.lookUp(plan.images, plan.imagePullPolicies);
  lookingUp.catch(() => {});
  const [stored, previous] = await Promise.all([ctx.readStored(key), ctx.readStatus(key)]);
  if (!isCurrent(plan, stored, log)) return NOTHING_LEFT;
  if (plan.composeFailure) {
    await reportUnlaunchable(ctx, plan, plan.composeFailure, log);
    log.warn({ reason: plan.composeFailure }, "vmi cannot be composed");
    return NOTHING_LEFT;
  }
  // A running VMI's later generation changes NICs only: its disks are made,
  // and an upload that replaced its image since must not be fetched now.
  const running = previous?.uid === uid && previous.phase === Phase.PHASE_RUNNING;
  if (!running && !(await holdImages(ctx, plan, lookingUp, log))) return NOTHING_LEFT;
  const problems = await planProblems(plan, ctx.state, stored, ctx.hostDiskDirs);
  if (problems.length > 0) {
    await reportUnlaunchable(ctx, plan, refusal(problems), log);
    log.error(
      { problems: problems.slice(0, 50), count: problems.length },
      "plan refused: it is not what headroom composes for this VMI",
    );
    return NOTHING_LEFT;
  }
  if (!(await volumesClaimed(ctx, plan, log))) return NOTHING_LEFT;

  // Taken: Scheduled on this node (never over Running). Written while the
  // domain is launched, and done before any later status is: a failed write
  // sends the plan round again, as a crash would. The images' record is
  // written meanwhile too, before the images are let go.
  const scheduling = ctx.advanceStatus(key, scheduledStatus(statusBase(ctx, plan)));
  const recording = recordImagesUsed(ctx.state, namespace, name, plan.images);
  const [scheduled, recorded, launch] = await Promise.allSettled([
    scheduling,
    recording,
    launchOnHost(ctx, plan, log),
  ]);
  releaseImages();
  if (scheduled.status === "rejected") throw scheduled.reason;
  if (recorded.status === "rejected") throw recorded.reason;
  if (launch.status === "rejected") {
    const error = launch.reason;
    // libvirtd went away mid-launch: not the plan's fault; JetStream retries
    // it once the connection is back.
    if (error instanceof LibvirtUnavailableError || (await ctx.libvirtLost())) throw error;
    const reason = errorText(error);
    log.error({ reason }, "launch failed");
    await ctx.putStatus(key, failedStatus(statusBase(ctx, plan), reason));
    return NOTHING_LEFT;
  }
  const launched = launch.value;
  await syncForwards(ctx, plan.domainName, stored);

  const facts: PlanFacts = {
    uid,
    generation,
    domainName: plan.domainName,
    capacity: plan.capacity,
  };
  if (!launched.alreadyRunning) {
    await reportLaunched(ctx, plan, facts, launched, log);
    return NOTHING_LEFT;
  }
  const controllersAdded = previous?.capacity?.controllersAdded ?? 0;
  // Started by a launcher that died before reporting it: report it now,
  // once, then bring its interfaces to this generation as usual.
  const unreported = !running;
  if (unreported && !(await reservedReported(ctx, plan))) {
    const status = statusOf(ctx, facts, launched, controllersAdded);
    await publishEvent(
      ctx,
      plan,
      CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
      status,
      `${uid}:reserved`,
    );
    log.info("running; capacity reserved (reported after a restart)");
  }
  const changes = await reconcileInterfaces(
    ctx.libvirt(),
    launched.domain,
    plan.domainXml,
    launched.liveXml,
    ctx.detachTimeoutMs,
  );
  const reported = await reportNicChanges(
    ctx,
    plan,
    facts,
    launched.domain,
    changes,
    controllersAdded,
    log,
  );
  await ctx.putStatus(key, reported.status);
  return { kept: reported.kept };
}

/**
 * Fetches the plan's images this host lacks; while it does, the VMI's status
 * says so. An image nobody has, or one that fails its checks, fails the
 * generation (false); NATS trouble is thrown and the plan retried.
 */
async function holdImages(
  ctx: LauncherContext,
  plan: DomainPlan,
  lookingUp: Promise<LookedUp[]>,
  log: Logger,
): Promise<boolean> {
  const key = storeKey(plan.namespace, plan.name);
  // Progress is written in order, and done before the launch's own statuses.
  let progress = Promise.resolve();
  const tell = (reason: string) => {
    const status = scheduledStatus(statusBase(ctx, plan), reason);
    progress = progress
      .then(() => ctx.advanceStatus(key, status))
      .then(
        () => undefined,
        (error) => log.warn({ err: error }, "fetch progress not written to the status"),
      );
  };
  try {
    await ctx.images.hold(await lookingUp, tell);
    await progress;
    return true;
  } catch (error) {
    if (!(error instanceof ImageUnavailableError)) throw error;
    await progress;
    await reportUnlaunchable(ctx, plan, error.message, log);
    log.warn({ reason: error.message }, "vmi cannot be launched: an image is unavailable");
    return false;
  }
}

/**
 * The plan's volumes are its VMI's: true. A volume not made yet keeps the
 * plan waiting (Scheduled, saying for what) until it is; one another VMI
 * uses fails the VMI.
 */
async function volumesClaimed(
  ctx: LauncherContext,
  plan: DomainPlan,
  log: Logger,
): Promise<boolean> {
  const claims = await claimPlanVolumes(ctx, plan);
  if ("claimed" in claims) {
    await stopWaiting(ctx, plan.uid);
    return true;
  }
  if ("refused" in claims) {
    await stopWaiting(ctx, plan.uid);
    await reportUnlaunchable(ctx, plan, claims.refused, log);
    log.warn({ reason: claims.refused }, "vmi cannot be launched: a volume cannot be had");
    return false;
  }
  await waitForVolumes(ctx, plan);
  const names = claims.missing.join(", ");
  const reason = `waiting for volume ${names}: create it (headroom volume create ${claims.missing[0]} --size SIZE) and the VMI starts`;
  await ctx.advanceStatus(
    storeKey(plan.namespace, plan.name),
    scheduledStatus(statusBase(ctx, plan), reason),
  );
  log.info({ volumes: claims.missing }, "vmi waits for its volumes");
  return false;
}

/** The plan's VMI and generation, on `node` (this host unless told), as of now. */
function statusBase(ctx: LauncherContext, plan: DomainPlan, node = ctx.node): StatusBase {
  return {
    uid: plan.uid,
    generation: Number(plan.generation),
    domainName: plan.domainName,
    node,
    nowMs: ctx.now(),
  };
}

async function launchOnHost(
  ctx: LauncherContext,
  plan: DomainPlan,
  log: Logger,
): Promise<LaunchResult> {
  const hostReady = prepareHost(
    {
      conn: ctx.libvirt(),
      images: ctx.imageStore,
      podSubnet: ctx.podSubnet,
      volumeDisk: ctx.state.volumeDisk,
    },
    plan,
    log,
  );
  // launchDomain awaits it before the start. A launch that fails earlier has
  // its own error to report, once the preparation is over: until then it may
  // still be linking image disks, which the caller's image hold protects.
  const prepared = hostReady.catch(() => {});
  try {
    return await launchDomain(
      ctx.libvirt(),
      {
        domainName: plan.domainName,
        ownerUid: domainUuidOf(plan.uid),
        baseXml: withVirtType(plan.domainXml, ctx.virtType),
        placeholders: plan.placeholderCount,
        placeholderModel: placeholderModelOf(plan),
        start: !ctx.defineOnly,
        hostReady,
      },
      (message, fields) => log.info(fields ?? {}, message),
    );
  } catch (error) {
    await prepared;
    throw error;
  }
}

// A forged plan can hold any number of problems; a status stays small.
const PROBLEMS_SHOWN = 10;

function refusal(problems: string[]): string {
  const shown = problems.slice(0, PROBLEMS_SHOWN).join("; ");
  const more = problems.length - PROBLEMS_SHOWN;
  return `the plan was refused: ${shown}${more > 0 ? `; and ${more} more` : ""}`;
}

function placeholderModelOf(plan: DomainPlan): NicModel {
  const model = plan.placeholderModel as NicModel;
  return NIC_MODELS.includes(model) ? model : DEFAULT_NIC_MODEL;
}

/** A plan overtaken by a delete or a newer generation is dropped. */
function isCurrent(
  plan: DomainPlan,
  stored: VmiAccepted | null,
  log: Logger,
): stored is VmiAccepted {
  const generation = Number(plan.generation);
  if (stored?.uid !== plan.uid || Number(stored.generation) < generation) {
    log.info("plan dropped: the VMI was deleted or replaced meanwhile");
    return false;
  }
  if (Number(stored.generation) > generation) {
    log.info(
      { stored: Number(stored.generation) },
      "plan dropped: a newer generation is on its way",
    );
    return false;
  }
  return true;
}

/**
 * A generation that cannot be launched (the composer could not compose it, or
 * its plan was refused): Failed with the reason, and nothing on the host
 * changes; a domain of an earlier generation keeps running as it is. No node:
 * no host took the generation.
 */
async function reportUnlaunchable(
  ctx: LauncherContext,
  plan: DomainPlan,
  reason: string,
  log: Logger,
): Promise<void> {
  const written = await ctx.advanceStatus(
    storeKey(plan.namespace, plan.name),
    failedStatus(statusBase(ctx, plan, ""), reason),
  );
  if (!written) log.info("status not written: a later one is stored");
}

/**
 * The event goes out before the status: a crash in between is healed by the
 * redelivery (same message id), never leaving a Running VMI without its
 * reserved event.
 */
async function reportLaunched(
  ctx: LauncherContext,
  plan: DomainPlan,
  facts: PlanFacts,
  launched: LaunchResult,
  log: Logger,
): Promise<void> {
  const status: IVmiStatus = statusOf(ctx, facts, launched, launched.controllersAdded);
  if (ctx.defineOnly) status.phase = Phase.PHASE_SCHEDULED;
  await publishEvent(
    ctx,
    plan,
    CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
    status,
    `${plan.uid}:reserved`,
  );
  await ctx.putStatus(storeKey(plan.namespace, plan.name), status);
  log.info(
    { free: status.capacity?.free, controllersAdded: status.capacity?.controllersAdded },
    ctx.defineOnly
      ? "defined, not started (define-only); capacity reserved"
      : "running; capacity reserved",
  );
}
