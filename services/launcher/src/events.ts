// Capacity events and the Running status they go with: how a domain's live
// view becomes what others read.
import { capacitySubject, decode, encode, retryTransient, STREAMS } from "@headroom/bus";
import type { RunningView } from "@headroom/domain-manager";
import { CapacityEvent, type ICapacity, type IVmiStatus } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import { CapacityEventType, capacityEvent, runningStatus } from "./records.ts";

export type VmiRef = { namespace: string; name: string; uid: string };

/** What the status of a running VMI is computed from, besides its live domain. */
export interface PlanFacts {
  uid: string;
  generation: number;
  domainName: string;
  capacity: ICapacity | null | undefined;
}

export function statusOf(
  ctx: LauncherContext,
  facts: PlanFacts,
  view: RunningView,
  controllersAdded: number,
): IVmiStatus {
  const status = runningStatus({
    uid: facts.uid,
    generation: facts.generation,
    domainName: facts.domainName,
    node: ctx.node,
    nowMs: ctx.now(),
    capacity: facts.capacity ?? {},
    freeSlots: view.freeSlots,
    controllersAdded,
    interfaces: view.interfaces,
  });
  for (const iface of status.interfaces ?? []) {
    const ports = ctx.ports.of(facts.domainName, iface.name ?? "");
    if (ports.length > 0) iface.ports = ports;
  }
  return status;
}

/** Publishes one capacity event; `msgID` makes a redelivered one a no-op. */
export async function publishEvent(
  ctx: LauncherContext,
  vmi: VmiRef,
  type: CapacityEventType,
  status: IVmiStatus,
  msgID: string,
  extra: { interfaceName?: string; message?: string } = {},
): Promise<void> {
  const event = encode(
    CapacityEvent,
    capacityEvent(type, vmi, status, { ...extra, nowMs: ctx.now() }),
  );
  // The message id makes a repeat a no-op within the duplicate window.
  await retryTransient(() =>
    ctx.js.publish(capacitySubject(vmi.namespace, vmi.name), event, { msgID }),
  );
}

/**
 * Whether the capacity stream's latest event of this VMI is already its
 * reserved event: a relaunch after the duplicate window must not add a
 * second one.
 */
export async function reservedReported(ctx: LauncherContext, vmi: VmiRef): Promise<boolean> {
  const jsm = await ctx.js.jetstreamManager();
  const last = await jsm.streams
    .getMessage(STREAMS.capacity, { last_by_subj: capacitySubject(vmi.namespace, vmi.name) })
    .catch(() => null);
  if (!last) return false;
  const event = decode(CapacityEvent, last.data);
  return event.uid === vmi.uid && event.type === CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED;
}

export { CapacityEventType };
