// The stack (@headroom/test-stack) with domain-composer processes only, and a
// private state directory whose image store holds a fake tiny guest: a small
// qcow2 under /disk and stand-in kernel and initrd files (composing boots nothing).
import {
  API_SUBJECTS,
  acceptedSubject,
  type Buckets,
  decode,
  encode,
  ensureBuckets,
  generationMsgId,
  hostWorkSubject,
  type NatsConnection,
  request,
  STREAMS,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import type { HostState } from "@headroom/host-state";
import {
  DomainPlan,
  HostCondition,
  HostRecord,
  type IVmiAccepted,
  VmiAccepted,
  VmiStatus,
} from "@headroom/proto";
import { startStack } from "@headroom/test-stack";
import type { NatsServer, ServiceProcess } from "@headroom/testing";
import { interfaceCapacity, type Vmi } from "@headroom/vmi";
import type { JetStreamManager } from "@nats-io/jetstream";
import { CreateNetworkReply, CreateNetworkRequest } from "../src/mod.ts";

export interface Harness {
  nats: NatsServer;
  nc: NatsConnection;
  jsm: JetStreamManager;
  buckets: Buckets;
  stateDir: string;
  state: HostState;
  /** Every composer process started so far. */
  readonly composers: ServiceProcess[];
  /** Starts one more composer process (already counted in `composers`). */
  addComposer(): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

/** The one host the tests' VMIs are placed on: a record only, no launcher reads its work. */
export const TEST_NODE = "node-test";

/** Where the composer hands the plans of a VMI placed on TEST_NODE. */
export function planSubject(namespace: string, name: string): string {
  return hostWorkSubject(TEST_NODE, "plan", namespace, name);
}

/** A Ready host record that stays fresh for the length of a test run. */
export async function registerHost(buckets: Buckets, node = TEST_NODE, labels = {}) {
  const record = HostRecord.create({
    node,
    labels,
    condition: HostCondition.HOST_CONDITION_READY,
    updatedUnixMs: Date.now(),
    heartbeatMs: 3_600_000,
    memoryBytes: 64 * 1024 ** 3,
  });
  await buckets.hosts.put(node, encode(HostRecord, record));
}

export async function startHarness(
  replicas: number,
  options: { host?: boolean } = {},
): Promise<Harness> {
  // The test plays the validator (it writes VMIs and publishes them accepted) and reads the
  // composer's plans, which no one user of infra/nats/headroom.conf may do both: no logins.
  const stack = await startStack({
    services: Array.from({ length: replicas }, () => "domain-composer" as const),
    logins: false,
    tinyGuest: false,
    // The composer reads no image: no image store is needed.
    seedNetwork: false,
  });
  const jsm = await toJetStream(stack.nc).jetstreamManager();
  const buckets = await ensureBuckets(stack.nc);
  if (options.host !== false) await registerHost(buckets);
  return {
    nats: stack.nats,
    nc: stack.nc,
    jsm,
    buckets,
    stateDir: stack.stateDir,
    state: stack.state,
    get composers() {
      return stack.processes("domain-composer");
    },
    addComposer: () => stack.start("domain-composer"),
    stop: () => stack.stop(),
  };
}

export function createNetwork(nc: NatsConnection, name: string, bridge: string) {
  return request(
    nc,
    API_SUBJECTS.createNetwork,
    CreateNetworkRequest,
    { name, bridge },
    CreateNetworkReply,
  );
}

/** Does what the validator does for an accepted VMI: stores it, then publishes it. */
export async function accept(
  h: Harness,
  vmi: Vmi,
  record: { uid: string; generation?: number; msgId?: string; store?: boolean },
): Promise<IVmiAccepted> {
  const generation = record.generation ?? 1;
  const { namespace, name } = vmi.metadata;
  const capacity = interfaceCapacity(vmi);
  const accepted: IVmiAccepted = {
    namespace,
    name,
    uid: record.uid,
    generation,
    manifestJson: JSON.stringify(vmi),
    capacity: {
      ...(capacity.requested !== null ? { requested: capacity.requested } : {}),
      interfaces: capacity.interfaces,
      effective: capacity.effective,
    },
    createdUnixMs: Date.now(),
    acceptedUnixMs: Date.now(),
  };
  if (record.store !== false)
    await h.buckets.vmis.put(storeKey(namespace, name), encode(VmiAccepted, accepted));
  await publishAccepted(h, accepted, record.msgId ?? generationMsgId(record.uid, generation));
  return accepted;
}

export async function publishAccepted(h: Harness, accepted: IVmiAccepted, msgID: string) {
  const subject = acceptedSubject(accepted.namespace ?? "", accepted.name ?? "");
  return toJetStream(h.nc).publish(subject, encode(VmiAccepted, accepted), { msgID });
}

export async function countOn(h: Harness, subject: string): Promise<number> {
  const stream = subject.startsWith("headroom.host.") ? STREAMS.hostWork : STREAMS.pipeline;
  const info = await h.jsm.streams.info(stream, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the composer has taken every accepted message of this VMI off the stream. */
export function consumed(h: Harness, namespace: string, name: string) {
  const subject = acceptedSubject(namespace, name);
  return waitFor(`the composer to take ${subject}`, async () => (await countOn(h, subject)) === 0);
}

/** The last plan on a VMI's plan subject, with its message id. */
export async function lastPlan(h: Harness, namespace: string, name: string) {
  const subject = planSubject(namespace, name);
  if ((await countOn(h, subject)) === 0) return null;
  const stored = await h.jsm.streams.getMessage(STREAMS.hostWork, { last_by_subj: subject });
  if (!stored) return null;
  return { plan: decode(DomainPlan, stored.data), msgId: stored.header?.get("Nats-Msg-Id") ?? "" };
}

export async function statusOf(h: Harness, namespace: string, name: string) {
  const entry = await h.buckets.status.get(storeKey(namespace, name));
  return entry?.operation === "PUT" ? decode(VmiStatus, entry.value) : null;
}
