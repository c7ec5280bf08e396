// Reporting what a later generation changed on a running domain: one capacity
// event per NIC attached, detached or refused, and the status that follows.
import type { Logger } from "@headroom/bus";
import { inspectRunning, type RunningView } from "@headroom/domain-manager";
import type { Domain } from "@headroom/libvirt";
import { exhaustedMessage, InterfaceState, type IVmiStatus } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import {
  CapacityEventType,
  type PlanFacts,
  publishEvent,
  statusOf,
  type VmiRef,
} from "./events.ts";
import type { InterfaceChange } from "./interfaces.ts";

export interface ReportedChanges {
  status: IVmiStatus;
  /** NICs the VMI dropped that the guest still holds. */
  kept: string[];
}

/**
 * Publishes an event for each change and returns the status after them:
 * the live NICs, those the guest kept marked Detaching, those that could
 * not be attached marked Failed, the problems in `reason`.
 */
export async function reportNicChanges(
  ctx: LauncherContext,
  vmi: VmiRef,
  facts: PlanFacts,
  domain: Domain,
  changes: InterfaceChange[],
  controllersAdded: number,
  log: Logger,
): Promise<ReportedChanges> {
  const problems: string[] = [];
  const failedAttach: string[] = [];
  const failedDetach: string[] = [];
  let view: RunningView | undefined;
  for (const change of changes) {
    const eventId = `${facts.uid}:g${facts.generation}:${change.kind}:${change.name}`;
    if (change.kind === "attached" || change.kind === "detached") {
      view = change.view;
      const type =
        change.kind === "attached"
          ? CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED
          : CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED;
      const status = statusOf(ctx, facts, view, controllersAdded);
      await publishEvent(ctx, vmi, type, status, eventId, { interfaceName: change.name });
      const note = change.kind === "detached" ? (change.note ?? "") : "";
      log.info({ interface: change.name }, `interface ${change.kind}${note}`);
    } else if (change.kind === "exhausted") {
      view ??= await inspectRunning(domain);
      const status = statusOf(ctx, facts, view, controllersAdded);
      const message = exhaustedMessage(vmi, status.capacity, change.name);
      problems.push(message);
      failedAttach.push(change.name);
      await publishEvent(
        ctx,
        vmi,
        CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
        status,
        eventId,
        {
          interfaceName: change.name,
          message,
        },
      );
      log.warn({ interface: change.name }, message);
    } else {
      problems.push(`${change.name}: ${change.reason}`);
      (change.direction === "attach" ? failedAttach : failedDetach).push(change.name);
      log.warn({ interface: change.name, reason: change.reason }, "interface change failed");
    }
  }
  const status = statusOf(ctx, facts, await inspectRunning(domain), controllersAdded);
  status.reason = problems.join("; ");
  const present = new Set((status.interfaces ?? []).map((i) => i.name));
  const kept = failedDetach.filter((name) => present.has(name));
  for (const iface of status.interfaces ?? []) {
    if (kept.includes(iface.name ?? "")) iface.state = InterfaceState.INTERFACE_STATE_DETACHING;
  }
  for (const name of failedAttach) {
    if (!present.has(name))
      status.interfaces?.push({ name, state: InterfaceState.INTERFACE_STATE_FAILED });
  }
  return { status, kept };
}
