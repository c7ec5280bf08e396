// The launcher: turns domain plans into running domains on this host, removes
// the domains of deleted VMIs, records refused hot-plugs, and reports status
// and capacity events. It only carries out what the pipeline hands it and
// answers describe and console log reads; VMIs and their generations are the
// validator's.
import {
  API_SUBJECTS,
  type Buckets,
  CAPACITY_FILTER,
  consume,
  decode,
  defaultLauncherConcurrency,
  endpoint,
  ensureBuckets,
  ensureImageObjects,
  ensureStreams,
  HOST_API,
  type HostWorkKind,
  hostApiSubject,
  hostWorkDurable,
  hostWorkFilter,
  hostWorkKind,
  type MessageHandler,
  type NatsConnection,
  PermanentError,
  SERVICE_NAMES,
  STREAMS,
  startMicroService,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import { vmiOfDomainName } from "@headroom/host-state";
import type { Connection } from "@headroom/libvirt";
import {
  ConsoleLogReply,
  ConsoleLogRequest,
  CreateVolumeReply,
  CreateVolumeRequest,
  DeleteVolumeReply,
  DeleteVolumeRequest,
  DescribeReply,
  DescribeRequest,
  DomainPlan,
  InterfaceRefused,
  ListVolumesReply,
  ListVolumesRequest,
  PruneImagesReply,
  PruneImagesRequest,
  VmiDeleted,
} from "@headroom/proto";
import { serveConsoleLog } from "./console_log.ts";
import { type LauncherOptions, launcherContext } from "./context.ts";
import { describeVmi } from "./describe.ts";
import { reopenForwards } from "./forwarding.ts";
import { domainsOfThisHost, reportStopped } from "./host_domains.ts";
import { pruneImages } from "./image_prune.ts";
import { executePlan } from "./plan.ts";
import type { LibvirtLink } from "./reconnect.ts";
import { recordRefusal } from "./refused.ts";
import { releaseVmi } from "./release.ts";
import { UnplugRetries } from "./unplug_retry.ts";
import { createVolume, deleteVolume, listVolumes, plansWaitingFor } from "./volumes.ts";

export type { LauncherOptions } from "./context.ts";

export interface Launcher {
  buckets: Buckets;
  /** Stops taking work and waits for the work in hand. */
  stop(): Promise<void>;
  /** Resolves if the launcher stopped taking work by itself (see ConsumerLoop.lost). */
  lost: Promise<Error>;
}

/**
 * A plan held by a launcher that died goes to another delivery after this
 * long; long work keeps its message by the consumer's keepalive.
 */
const REDELIVER_AFTER_MS = 20_000;

export async function startLauncher(
  nc: NatsConnection,
  conn: Connection | LibvirtLink,
  options: LauncherOptions,
): Promise<Launcher> {
  const js = toJetStream(nc);
  for (const difference of await ensureStreams(js)) options.log.warn(difference);
  const [buckets, imageObjects] = await Promise.all([ensureBuckets(js), ensureImageObjects(js)]);
  const ctx = launcherContext(nc, conn, buckets, imageObjects, options);
  await ctx.host.start();
  await ctx.images.tidy();
  await ctx.images.publish();
  const unplugRetries = new UnplugRetries(ctx, options.unplugRetryMs);
  // Ends the waits of console log requests when the launcher stops.
  const stopping = new AbortController();

  // Plans that waited for a volume run once it is made (or, at start, if it was meanwhile).
  const resumeWaiting = async (volume?: string) => {
    for (const plan of await plansWaitingFor(ctx, volume)) {
      const key = storeKey(plan.namespace, plan.name);
      ctx.log.info({ vmi: key, volume }, "a volume it waited for is there: carrying out its plan");
      await ctx.queue
        .run(key, () => executePlan(ctx, plan))
        .catch((error: unknown) => ctx.log.error({ vmi: key, err: error }, "waiting plan failed"));
    }
  };

  const micro = await startMicroService(nc, {
    name: SERVICE_NAMES.launcher,
    version: options.version ?? "0.1.0",
    description: "runs the domains of its libvirt host and hot-plugs their NICs",
    metadata: { node: ctx.node, virtType: ctx.virtType },
    log: ctx.log,
    endpoints: [
      endpoint({
        name: "describe",
        subject: hostApiSubject(ctx.node, HOST_API.describe),
        request: DescribeRequest,
        reply: DescribeReply,
        handler: (req) => describeVmi(ctx, req),
      }),
      endpoint({
        name: "image-prune",
        subject: API_SUBJECTS.pruneImages,
        request: PruneImagesRequest,
        reply: PruneImagesReply,
        handler: (req) => pruneImages(ctx, req),
      }),
      endpoint({
        name: "volume-create",
        subject: API_SUBJECTS.createVolume,
        request: CreateVolumeRequest,
        reply: CreateVolumeReply,
        handler: async (req) => {
          const reply = await createVolume(ctx, req);
          if (reply.created) void resumeWaiting(reply.created.name ?? "");
          return reply;
        },
      }),
      endpoint({
        name: "volume-list",
        subject: API_SUBJECTS.listVolumes,
        request: ListVolumesRequest,
        reply: ListVolumesReply,
        handler: () => listVolumes(ctx),
      }),
      endpoint({
        name: "volume-delete",
        subject: API_SUBJECTS.deleteVolume,
        request: DeleteVolumeRequest,
        reply: DeleteVolumeReply,
        handler: (req) => deleteVolume(ctx, req),
      }),
      endpoint({
        name: "logs",
        subject: hostApiSubject(ctx.node, HOST_API.consoleLog),
        request: ConsoleLogRequest,
        reply: ConsoleLogReply,
        handler: (req) => serveConsoleLog(ctx, req, stopping.signal),
      }),
    ],
  });

  const concurrency = options.concurrency ?? defaultLauncherConcurrency();
  const handlers: Record<HostWorkKind, MessageHandler> = {
    plan: async (msg) => {
      const plan = decode(DomainPlan, msg.data);
      const key = storeKey(plan.namespace, plan.name);
      const outcome = await ctx.queue.run(key, () => executePlan(ctx, plan));
      if (outcome.kept.length > 0) {
        ctx.log.info(
          { vmi: key, kept: outcome.kept, retryInMs: unplugRetries.delayOf(0) },
          "will ask the guest again for the interfaces it kept",
        );
        unplugRetries.schedule(key);
      }
    },
    release: async (msg) => {
      const deleted = decode(VmiDeleted, msg.data);
      await ctx.queue.run(storeKey(deleted.namespace, deleted.name), () =>
        releaseVmi(ctx, deleted),
      );
    },
    refused: async (msg) => {
      const refused = decode(InterfaceRefused, msg.data);
      await ctx.queue.run(storeKey(refused.namespace, refused.name), () =>
        recordRefusal(ctx, refused),
      );
    },
  };
  const loop = await consume(
    ctx.js,
    STREAMS.hostWork,
    hostWorkDurable(ctx.node),
    hostWorkFilter(ctx.node),
    async (msg) => {
      const kind = hostWorkKind(msg.subject);
      const handler = handlers[kind as HostWorkKind];
      if (!handler) throw new PermanentError(`${msg.subject} is no work a launcher knows`);
      await handler(msg);
    },
    // A launch under TCG takes seconds, an unplug up to the detach timeout;
    // the handler's keepalive holds the message meanwhile. Launch failures
    // end as a Failed status; what is thrown is transient (NATS, libvirtd
    // restarting) and worth retrying for minutes.
    { log: ctx.log, ackWaitMs: REDELIVER_AFTER_MS, maxDeliver: 20, concurrency },
  );
  ctx.log.info(
    {
      virtType: ctx.virtType,
      node: ctx.node,
      concurrency,
      work: hostWorkFilter(ctx.node),
      capacityEvents: CAPACITY_FILTER,
    },
    "launcher carrying out this host's plans, releases and refusals",
  );
  const domainNames = await domainsOfThisHost(ctx, await ctx.libvirt().listDomainNames());
  // Unplugs a previous launcher left unacknowledged: look at every VMI domain
  // once (nothing happens where no NIC waits for its guest).
  for (const domainName of domainNames) {
    const vmi = vmiOfDomainName(domainName);
    if (vmi) unplugRetries.schedule(storeKey(vmi.namespace, vmi.name));
  }
  // A volume made while no launcher ran: the plans waiting for it go on.
  void resumeWaiting();
  // Guests still running from before: their ports lead to them again.
  void reopenForwards(ctx, domainNames);
  // Guests that stopped while no launcher watched (a host lost and back) say so.
  void reportStopped(ctx, domainNames);

  return {
    buckets,
    lost: loop.lost,
    stop: async () => {
      await ctx.host.stop("its launcher stopped");
      unplugRetries.stop();
      stopping.abort();
      await micro.stop();
      await loop.stop();
      await ctx.ports.closeAll();
    },
  };
}
