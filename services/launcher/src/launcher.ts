// The launcher: turns domain plans into running domains on this host, removes
// the domains of deleted VMIs, and reports status and capacity events.
import { mkdir, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname } from "node:path";
import {
  API_SUBJECTS,
  ApiError,
  type Buckets,
  CAPACITY_FILTER,
  type ConsumerLoop,
  capacitySubject,
  consume,
  DURABLES,
  decode,
  encode,
  endpoint,
  ensureBuckets,
  ensureStreams,
  type JetStreamClient,
  type Logger,
  type NatsConnection,
  PermanentError,
  PIPELINE_FILTERS,
  parseStoreKey,
  readEntry,
  request,
  SERVICE_NAMES,
  STREAMS,
  startMicroService,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import {
  DEFAULT_NIC_MODEL,
  NIC_MODELS,
  type NicModel,
  type VirtType,
  withVirtType,
} from "@headroom/domain-xml";
import { domainNameOf, hostState } from "@headroom/host-state";
import {
  type DiskFile,
  ensureBridge,
  ensureDiskFile,
  inspectRunning,
  LaunchError,
  launchDomain,
  type RunningView,
  removeDomain,
} from "@headroom/launch";
import type { Connection } from "@headroom/libvirt";
import {
  AddInterfaceRequest,
  ApplyReply,
  ApplyRequest,
  CapacityEvent,
  DescribeReply,
  DescribeRequest,
  DomainPlan,
  type IInterfaceReply,
  InterfaceReply,
  InterfaceState,
  type IVmiStatus,
  Phase,
  RemoveInterfaceRequest,
  VmiAccepted,
  VmiDeleted,
  VmiStatus,
} from "@headroom/proto";
import { type Vmi, withInterfaceAdded, withInterfaceRemoved } from "@headroom/vmi";
import { detachUnwanted, reconcileInterfaces, vmiNicNames } from "./interfaces.ts";
import { KeyedQueue } from "./keyed_queue.ts";
import { type LibvirtLink, LibvirtUnavailableError } from "./reconnect.ts";
import { CapacityEventType, capacityEvent, failedStatus, runningStatus } from "./records.ts";
import { RetryTimers } from "./retry_timers.ts";

export interface LauncherOptions {
  log: Logger;
  /** The hypervisor domains run on: "kvm" when it really runs guests, else "qemu". */
  virtType: VirtType;
  /** Reported as status.node; default the host name. */
  node?: string;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** How long a guest gets to release an unplugged NIC (default 30 s). */
  detachTimeoutMs?: number;
  /**
   * A NIC the guest did not release is asked for again after this long,
   * doubling up to 15 min, until the guest lets it go (default 60 s).
   */
  unplugRetryMs?: number;
  version?: string;
}

export interface Launcher {
  buckets: Buckets;
  /** Stops taking work and waits for the work in hand. */
  stop(): Promise<void>;
}

/**
 * A plan held by a launcher that died goes to another delivery after this
 * long; long work keeps its message by the consumer's keepalive.
 */
const REDELIVER_AFTER_MS = 20_000;

const UNPLUG_RETRY_MAX_MS = 15 * 60_000;

/** The domain name of a VMI a request names; a name that cannot be a VMI's is the caller's mistake. */
function requestedDomainName(namespace: string, name: string): string {
  try {
    return domainNameOf(namespace, name);
  } catch (error) {
    throw new ApiError("BAD_REQUEST", errorText(error));
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function diskFilesOf(plan: DomainPlan): DiskFile[] {
  return plan.diskFiles.map((file) => {
    const path = file.path ?? "";
    return file.backingPath
      ? { path, backingPath: file.backingPath, backingFormat: file.backingFormat || "qcow2" }
      : { path, blankSizeBytes: Number(file.blankSizeBytes) };
  });
}

function placeholderModelOf(plan: DomainPlan): NicModel {
  const model = plan.placeholderModel as NicModel;
  return NIC_MODELS.includes(model) ? model : DEFAULT_NIC_MODEL;
}

type VmiRef = { namespace: string; name: string; uid: string };

/** headroom's own words when a VMI has no room left. */
export function exhaustedMessage(vmi: VmiRef, status: IVmiStatus, iface: string): string {
  const c = status.capacity ?? {};
  const asked = c.requested != null ? `asked for ${c.requested}` : "reserved no extra room";
  return (
    `vmi ${vmi.namespace}/${vmi.name} has no free slot for interface ${iface}: ` +
    `it ${asked} (effective ${c.effective ?? 0}), ${c.inUse ?? 0} in use, 0 free`
  );
}

export async function startLauncher(
  nc: NatsConnection,
  conn: Connection | LibvirtLink,
  options: LauncherOptions,
): Promise<Launcher> {
  const { log, virtType } = options;
  // Taken afresh for each piece of work: a reconnect replaces the connection.
  const libvirt = (): Connection => ("current" in conn ? conn.current() : conn);
  // A call can fail before libvirt's close callback has run: ask the connection.
  const libvirtLost = async () => {
    try {
      return !(await libvirt().isAlive());
    } catch {
      return true;
    }
  };
  const now = options.now ?? Date.now;
  const node = options.node ?? hostname();
  const detachTimeoutMs = options.detachTimeoutMs ?? 30_000;
  const state = hostState(options.env);
  const js = toJetStream(nc);
  await ensureStreams(js);
  const buckets = await ensureBuckets(js);
  const queue = new KeyedQueue();
  const unplugRetries = new RetryTimers(options.unplugRetryMs ?? 60_000, UNPLUG_RETRY_MAX_MS);

  const putStatus = (key: string, status: IVmiStatus) =>
    buckets.status.put(key, encode(VmiStatus, status));

  const readStatus = async (key: string): Promise<IVmiStatus | null> =>
    (await readEntry(buckets.status, key, VmiStatus))?.value ?? null;

  const publishEvent = (
    js: JetStreamClient,
    vmi: VmiRef,
    type: CapacityEventType,
    status: IVmiStatus,
    msgID: string,
    extra: { interfaceName?: string; message?: string } = {},
  ) =>
    js.publish(
      capacitySubject(vmi.namespace, vmi.name),
      encode(CapacityEvent, capacityEvent(type, vmi, status, { ...extra, nowMs: now() })),
      { msgID },
    );

  /**
   * Whether the capacity stream's latest event of this VMI is already its
   * reserved event: a relaunch after the duplicate window must not add a
   * second one.
   */
  const reservedReported = async (vmi: VmiRef): Promise<boolean> => {
    const jsm = await js.jetstreamManager();
    const last = await jsm.streams
      .getMessage(STREAMS.capacity, { last_by_subj: capacitySubject(vmi.namespace, vmi.name) })
      .catch(() => null);
    if (!last) return false;
    const event = decode(CapacityEvent, last.data);
    return event.uid === vmi.uid && event.type === CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED;
  };

  /** The VMI as stored now, or null once it is deleted. */
  const readStored = async (key: string): Promise<VmiAccepted | null> =>
    (await readEntry(buckets.vmis, key, VmiAccepted))?.value ?? null;

  const statusOf = (
    plan: { uid: string; generation: number; domainName: string; capacity: DomainPlan["capacity"] },
    view: RunningView,
    controllersAdded: number,
  ) =>
    runningStatus({
      uid: plan.uid,
      generation: plan.generation,
      domainName: plan.domainName,
      node,
      nowMs: now(),
      capacity: plan.capacity ?? {},
      freeSlots: view.freeSlots,
      controllersAdded,
      interfaces: view.interfaces,
    });

  const launchPlan = async (plan: DomainPlan) => {
    const { namespace, name, uid } = plan;
    const generation = Number(plan.generation);
    const key = storeKey(namespace, name);
    const plog = log.child({ vmi: `${namespace}/${name}`, uid, generation });
    const stored = await readStored(key);
    if (stored?.uid !== uid || Number(stored.generation) < generation) {
      plog.info("plan dropped: the VMI was deleted or replaced meanwhile");
      return;
    }
    if (Number(stored.generation) > generation) {
      plog.info(
        { stored: Number(stored.generation) },
        "plan dropped: a newer generation is on its way",
      );
      return;
    }
    const base = { uid, generation, domainName: plan.domainName, node, nowMs: now() };
    const previous = await readStatus(key);
    let status: IVmiStatus;
    let launched: Awaited<ReturnType<typeof launchDomain>>;
    try {
      for (const file of diskFilesOf(plan)) {
        await ensureDiskFile(file).catch((error) => {
          throw new LaunchError(`prepare disk ${file.path}`, error);
        });
      }
      if (plan.consoleLogPath) {
        // virtlogd writes the console log; QEMU never reads it.
        await mkdir(dirname(plan.consoleLogPath), { recursive: true });
      }
      for (const bridge of plan.bridges) {
        const outcome = await ensureBridge(bridge).catch((error) => {
          throw new LaunchError(`prepare bridge ${bridge}`, error);
        });
        if (outcome === "created") plog.info({ bridge }, "host bridge created");
      }
      launched = await launchDomain(
        libvirt(),
        {
          domainName: plan.domainName,
          domainUuid: plan.domainUuid,
          baseXml: withVirtType(plan.domainXml, virtType),
          placeholders: plan.placeholders.length,
          placeholderModel: placeholderModelOf(plan),
        },
        (message, fields) => plog.info(fields ?? {}, message),
      );
    } catch (error) {
      // libvirtd went away mid-launch: not the plan's fault; JetStream retries
      // it once the connection is back.
      if (error instanceof LibvirtUnavailableError || (await libvirtLost())) throw error;
      const reason = errorText(error);
      plog.error({ reason }, "launch failed");
      await putStatus(key, failedStatus(base, reason));
      return;
    }
    const planFacts = { uid, generation, domainName: plan.domainName, capacity: plan.capacity };
    const controllersAdded = launched.alreadyRunning
      ? (previous?.capacity?.controllersAdded ?? 0)
      : launched.controllersAdded;
    // The event goes out before the status: a crash in between is healed by
    // the redelivery (same message id), never leaving a Running VMI without
    // its reserved event.
    if (!launched.alreadyRunning) {
      status = statusOf(planFacts, launched, controllersAdded);
      await publishEvent(
        js,
        plan,
        CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
        status,
        `${uid}:reserved`,
      );
      await putStatus(key, status);
      plog.info(
        { free: status.capacity?.free, controllersAdded: status.capacity?.controllersAdded },
        "running; capacity reserved",
      );
      return;
    }
    // Started by a launcher that died before reporting it: report it now,
    // once, then bring its interfaces to this generation as usual.
    const unreported = !(previous?.uid === uid && previous.phase === Phase.PHASE_RUNNING);
    if (unreported && !(await reservedReported(plan))) {
      await publishEvent(
        js,
        plan,
        CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
        statusOf(planFacts, launched, controllersAdded),
        `${uid}:reserved`,
      );
      plog.info("running; capacity reserved (reported after a restart)");
    }

    // A later generation of a running VMI: hot-plug or unplug what changed.
    const changes = await reconcileInterfaces(
      libvirt(),
      launched.domain,
      plan.domainXml,
      launched.liveXml,
      detachTimeoutMs,
    );
    const problems: string[] = [];
    const failedNames: string[] = [];
    let view: RunningView = launched;
    for (const change of changes) {
      const eventId = `${uid}:g${generation}:${change.kind}:${change.name}`;
      if (change.kind === "attached" || change.kind === "detached") {
        view = change.view;
        const type =
          change.kind === "attached"
            ? CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED
            : CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED;
        await publishEvent(js, plan, type, statusOf(planFacts, view, controllersAdded), eventId, {
          interfaceName: change.name,
        });
        plog.info({ interface: change.name }, `interface ${change.kind}`);
      } else if (change.kind === "exhausted") {
        const now = statusOf(planFacts, view, controllersAdded);
        const message = exhaustedMessage(plan, now, change.name);
        problems.push(message);
        failedNames.push(change.name);
        await publishEvent(
          js,
          plan,
          CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
          now,
          eventId,
          {
            interfaceName: change.name,
            message,
          },
        );
        plog.warn({ interface: change.name }, message);
      } else {
        problems.push(`${change.name}: ${change.reason}`);
        failedNames.push(change.name);
        plog.warn({ interface: change.name, reason: change.reason }, "interface change failed");
      }
    }
    view = await inspectRunning(launched.domain);
    status = statusOf(planFacts, view, controllersAdded);
    status.reason = problems.join("; ");
    const attachedNames = new Set((status.interfaces ?? []).map((i) => i.name));
    for (const failed of failedNames) {
      if (!attachedNames.has(failed))
        status.interfaces?.push({ name: failed, state: InterfaceState.INTERFACE_STATE_FAILED });
    }
    await putStatus(key, status);
    const kept = changes.filter((c) => c.kind === "failed" && attachedNames.has(c.name));
    if (kept.length > 0) {
      plog.info(
        { kept: kept.map((c) => c.name), retryInMs: unplugRetries.delayOf(0) },
        "will ask the guest again for the interfaces it kept",
      );
      scheduleUnplugRetry(key);
    }
  };

  /**
   * Asks the guest again for the NICs its VMI no longer lists (an unplug it
   * did not acknowledge in time); reports each it lets go, as the unplug
   * would have. True when the domain holds no such NIC any more.
   */
  const retryUnplugs = async (key: string, attempt: number): Promise<boolean> => {
    const stored = await readStored(key);
    const status = await readStatus(key);
    const skip = (why: string) => {
      log.debug({ key, why }, "no unplug to retry");
      return true;
    };
    if (!stored || status?.phase !== Phase.PHASE_RUNNING || status.uid !== stored.uid)
      return skip("not a running VMI");
    // A newer generation is on its way: its plan brings the NICs in line.
    if (Number(status.observedGeneration) !== Number(stored.generation))
      return skip(`generation ${stored.generation} is on its way`);
    const domain = await libvirt().findDomain(status.domainName ?? "");
    if (!domain || !(await domain.isActive())) return skip("domain not running");
    const vmi = JSON.parse(stored.manifestJson) as Vmi;
    const wanted = (vmi.spec?.domain?.devices?.interfaces ?? []).map((i) => i.name);
    const liveXml = await domain.getXmlDesc();
    const present = vmiNicNames(liveXml);
    // NICs the status still shows that the guest has released since: it
    // acknowledged the earlier unplug late.
    const releasedLate = (status.interfaces ?? [])
      .filter((i) => i.state === InterfaceState.INTERFACE_STATE_ATTACHED)
      .map((i) => i.name ?? "")
      .filter((n) => !wanted.includes(n) && !present.includes(n));
    const changes = await detachUnwanted(libvirt(), domain, wanted, liveXml, detachTimeoutMs);
    if (changes.length === 0 && releasedLate.length === 0) {
      return skip("the domain holds only the VMI's interfaces");
    }
    const { namespace, name } = parseStoreKey(key);
    const ref = { namespace, name, uid: stored.uid };
    const generation = Number(stored.generation);
    const facts = {
      uid: stored.uid,
      generation,
      domainName: status.domainName ?? "",
      capacity: status.capacity ?? {},
    };
    const controllersAdded = status.capacity?.controllersAdded ?? 0;
    const rlog = log.child({ vmi: `${namespace}/${name}`, uid: stored.uid, generation });
    const reportDetached = (iface: string, view: RunningView) =>
      publishEvent(
        js,
        ref,
        CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED,
        statusOf(facts, view, controllersAdded),
        `${stored.uid}:g${generation}:detached:${iface}`,
        { interfaceName: iface },
      );
    if (releasedLate.length > 0) {
      const view = await inspectRunning(domain);
      for (const iface of releasedLate) {
        await reportDetached(iface, view);
        rlog.info({ interface: iface }, "interface detached: the guest released it late");
      }
    }
    const kept: string[] = [];
    for (const change of changes) {
      if (change.kind === "detached") {
        await reportDetached(change.name, change.view);
        rlog.info({ interface: change.name, attempt: attempt + 1 }, "interface detached on retry");
      } else if (change.kind === "failed") {
        kept.push(`${change.name}: ${change.reason}`);
      }
    }
    const next = statusOf(facts, await inspectRunning(domain), controllersAdded);
    next.reason = kept.join("; ");
    await putStatus(key, next);
    if (kept.length > 0) {
      rlog.warn(
        { kept, retryInMs: unplugRetries.delayOf(attempt + 1) },
        "the guest still holds interfaces its VMI dropped; asking again later",
      );
    }
    return kept.length === 0;
  };

  const scheduleUnplugRetry = (key: string) => {
    unplugRetries.schedule(
      key,
      (attempt) => queue.run(key, () => retryUnplugs(key, attempt)),
      (error) => log.warn({ key, err: error }, "unplug retry failed; trying again later"),
    );
  };

  const releaseVmi = async (deleted: VmiDeleted) => {
    const { namespace, name, uid } = deleted;
    const key = storeKey(namespace, name);
    const dlog = log.child({ vmi: `${namespace}/${name}`, uid });
    let domainName: string;
    try {
      domainName = domainNameOf(namespace, name);
    } catch (error) {
      // Not a VMI headroom could have accepted: nothing to release, never worth a retry.
      throw new PermanentError(
        `deletion of ${JSON.stringify(`${namespace}/${name}`)}: ${errorText(error)}`,
      );
    }
    const domain = await libvirt().findDomain(domainName);
    const last: IVmiStatus = (await readStatus(key)) ?? { node, capacity: {} };
    if (domain && domain.uuid.toLowerCase() !== uid.toLowerCase()) {
      // A VMI of the same name was created again; its domain is not ours to remove.
      dlog.warn({ domain: domainName }, "domain belongs to a newer VMI; left alone");
    } else {
      if (domain) await removeDomain(domain);
      await rm(state.vmDir(namespace, name), { recursive: true, force: true });
      if ((await readStored(key)) === null && (!last.uid || last.uid === uid)) {
        await buckets.status.delete(key);
      }
    }
    const released: IVmiStatus = { ...last, capacity: { ...last.capacity, free: 0, inUse: 0 } };
    await publishEvent(
      js,
      deleted,
      CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED,
      released,
      `${uid}:released`,
    );
    dlog.info({ domain: domainName, removed: domain !== undefined }, "released");
  };

  /** The running VMI a hot-plug request names, or an ApiError saying why not. */
  const runningVmi = async (namespace: string, name: string) => {
    const key = storeKey(namespace, name);
    const stored = await readStored(key);
    if (!stored) throw new ApiError("NOT_FOUND", `vmi ${namespace}/${name} not found`);
    const status = await readStatus(key);
    const domain = await libvirt().findDomain(requestedDomainName(namespace, name));
    if (status?.phase !== Phase.PHASE_RUNNING || !domain || !(await domain.isActive()))
      throw new ApiError("CONFLICT", `vmi ${namespace}/${name} is not running`);
    return { key, stored, status, domain, vmi: JSON.parse(stored.manifestJson) as Vmi };
  };

  /** Hands the edited VMI to the validator, as `headroom apply` would, and waits for the launcher's word on it. */
  const applyAndWait = async (
    vmi: Vmi,
    key: string,
    iface: string,
    wantAttached: boolean,
  ): Promise<IInterfaceReply> => {
    const reply = await request(
      nc,
      API_SUBJECTS.apply,
      ApplyRequest,
      { manifestJson: JSON.stringify(vmi) },
      ApplyReply,
    );
    if (reply.rejected) {
      const message = (reply.rejected.errors ?? [])
        .map((e) => `${e.field}: ${e.message}`)
        .join("; ");
      return { ok: false, reason: "Invalid", message };
    }
    const generation = Number(reply.accepted?.generation ?? 0);
    const deadline = Date.now() + detachTimeoutMs + 120_000;
    for (;;) {
      const status = await readStatus(key);
      if (status && Number(status.observedGeneration) >= generation) {
        const found = status.interfaces?.find((i) => i.name === iface);
        const attached = found?.state === InterfaceState.INTERFACE_STATE_ATTACHED;
        const ok = wantAttached ? attached : !attached;
        return {
          ok,
          reason: ok ? "" : wantAttached ? "AttachFailed" : "DetachFailed",
          message: ok ? "" : status.reason || "the change did not take effect",
          ...(found ? { interface: found } : {}),
          ...(status.capacity ? { capacity: status.capacity } : {}),
        };
      }
      if (Date.now() > deadline)
        throw new ApiError("TIMEOUT", `generation ${generation} was not launched in time`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  const addInterface = async (req: AddInterfaceRequest): Promise<IInterfaceReply> => {
    const { namespace, name, interfaceName, networkName } = req;
    const checked = await queue.run(storeKey(namespace, name), async () => {
      const vmi = await runningVmi(namespace, name);
      const view = await inspectRunning(vmi.domain);
      if (view.freeSlots.length === 0) {
        const status = { ...vmi.status, capacity: { ...vmi.status.capacity, free: 0 } };
        const message = exhaustedMessage(
          { namespace, name, uid: vmi.stored.uid },
          status,
          interfaceName,
        );
        await publishEvent(
          js,
          { namespace, name, uid: vmi.stored.uid },
          CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
          status,
          `${vmi.stored.uid}:exhausted:${interfaceName}:${now()}`,
          { interfaceName, message },
        );
        log.warn({ vmi: `${namespace}/${name}`, interface: interfaceName }, message);
        const refused: IInterfaceReply = { ok: false, reason: "Exhausted", message };
        return { kind: "refused" as const, refused };
      }
      return {
        kind: "edited" as const,
        edited: withInterfaceAdded(vmi.vmi, {
          name: interfaceName,
          networkName,
          ...(req.mac ? { macAddress: req.mac } : {}),
        }),
        key: vmi.key,
      };
    });
    if (checked.kind === "refused") return checked.refused;
    return applyAndWait(checked.edited, checked.key, interfaceName, true);
  };

  const removeInterface = async (req: RemoveInterfaceRequest): Promise<IInterfaceReply> => {
    const { namespace, name, interfaceName } = req;
    const vmi = await runningVmi(namespace, name);
    const edited = withInterfaceRemoved(vmi.vmi, interfaceName);
    if (!edited)
      throw new ApiError("NOT_FOUND", `vmi ${namespace}/${name} has no interface ${interfaceName}`);
    return applyAndWait(edited, vmi.key, interfaceName, false);
  };

  const describe = async (req: DescribeRequest) => {
    const { namespace, name } = req;
    const key = storeKey(namespace, name);
    const stored = await readStored(key);
    const domain = await libvirt().findDomain(requestedDomainName(namespace, name));
    if (!stored || !domain || !(await domain.isActive()))
      return { found: false, message: `vmi ${namespace}/${name} has no running domain on ${node}` };
    const status = await readStatus(key);
    const view = await inspectRunning(domain);
    const live = statusOf(
      {
        uid: stored.uid,
        generation: Number(status?.observedGeneration ?? stored.generation),
        domainName: domain.name,
        capacity: stored.capacity ?? {},
      },
      view,
      status?.capacity?.controllersAdded ?? 0,
    );
    return { found: true, live };
  };

  const micro = await startMicroService(nc, {
    name: SERVICE_NAMES.launcher,
    version: options.version ?? "0.1.0",
    description: "runs the domains of its libvirt host and hot-plugs their NICs",
    metadata: { node, virtType },
    log,
    endpoints: [
      endpoint({
        name: "addinterface",
        subject: API_SUBJECTS.addInterface,
        request: AddInterfaceRequest,
        reply: InterfaceReply,
        handler: (req) => addInterface(req),
      }),
      endpoint({
        name: "removeinterface",
        subject: API_SUBJECTS.removeInterface,
        request: RemoveInterfaceRequest,
        reply: InterfaceReply,
        handler: (req) => removeInterface(req),
      }),
      endpoint({
        name: "describe",
        subject: API_SUBJECTS.describe,
        request: DescribeRequest,
        reply: DescribeReply,
        handler: (req) => describe(req),
      }),
    ],
  });

  const loops: ConsumerLoop[] = [
    await consume(
      js,
      STREAMS.pipeline,
      DURABLES.launcherPlan,
      PIPELINE_FILTERS.plan,
      async (msg) => {
        const plan = decode(DomainPlan, msg.data);
        await queue.run(storeKey(plan.namespace, plan.name), () => launchPlan(plan));
      },
      // A launch under TCG takes seconds, an unplug up to the detach timeout;
      // the handler's keepalive holds the message meanwhile.
      // Launch failures end as a Failed status; what is thrown is transient
      // (NATS, libvirtd restarting) and worth retrying for minutes.
      { log, ackWaitMs: REDELIVER_AFTER_MS, maxDeliver: 20 },
    ),
    await consume(
      js,
      STREAMS.pipeline,
      DURABLES.launcherDeleted,
      PIPELINE_FILTERS.deleted,
      async (msg) => {
        const deleted = decode(VmiDeleted, msg.data);
        await queue.run(storeKey(deleted.namespace, deleted.name), () => releaseVmi(deleted));
      },
      { log, ackWaitMs: REDELIVER_AFTER_MS, maxDeliver: 20 },
    ),
  ];
  log.info(
    { virtType, node, capacityEvents: CAPACITY_FILTER },
    "launcher consuming plans and deletions",
  );
  // Unplugs a previous launcher left unacknowledged: look at every VMI domain
  // once (nothing happens where the domain already matches its VMI).
  for (const domainName of await libvirt().listDomainNames()) {
    const [namespace, name, ...rest] = domainName.split("_");
    if (!namespace || !name || rest.length > 0) continue;
    scheduleUnplugRetry(storeKey(namespace, name));
  }

  return {
    buckets,
    stop: async () => {
      unplugRetries.stop();
      await micro.stop();
      await Promise.all(loops.map((loop) => loop.stop()));
    },
  };
}
