import {
  DomainEventId,
  LIFECYCLE_EVENT_DETAILS,
  LIFECYCLE_EVENTS,
  type LifecycleEventName,
} from "./constants.ts";
import type { NativeEvent } from "./native.ts";

/** The domain an event is about. Look it up by uuid for a handle. */
export interface EventDomain {
  name: string;
  uuid: string;
}

/** A domain was defined, started, stopped, undefined, suspended, resumed, … */
export interface LifecycleEvent {
  kind: "lifecycle";
  domain: EventDomain;
  /** e.g. "started"; `unknown (N)` for numbers newer than this binding. */
  event: LifecycleEventName | `unknown (${number})`;
  /** The event's detail, e.g. "booted" for started, "destroyed" for stopped. */
  detail: string;
  /** libvirt's numbers: virDomainEventType and its detail enum. */
  eventCode: number;
  detailCode: number;
}

/** The guest rebooted. */
export interface RebootEvent {
  kind: "reboot";
  domain: EventDomain;
}

/** A device was attached to a running domain (VIR_DOMAIN_EVENT_ID_DEVICE_ADDED). */
export interface DeviceAddedEvent {
  kind: "device-added";
  domain: EventDomain;
  /** The device's alias, e.g. "net1". */
  alias: string;
}

/** The guest released a detached device (VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED). */
export interface DeviceRemovedEvent {
  kind: "device-removed";
  domain: EventDomain;
  alias: string;
}

/** The guest refused to release a device (VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED). */
export interface DeviceRemovalFailedEvent {
  kind: "device-removal-failed";
  domain: EventDomain;
  alias: string;
}

export type DomainEvent =
  | LifecycleEvent
  | RebootEvent
  | DeviceAddedEvent
  | DeviceRemovedEvent
  | DeviceRemovalFailedEvent;

export type DomainEventKind = DomainEvent["kind"];

/** libvirt's event id of each kind. */
export const DOMAIN_EVENT_IDS: Readonly<Record<DomainEventKind, number>> = {
  lifecycle: DomainEventId.LIFECYCLE,
  reboot: DomainEventId.REBOOT,
  "device-added": DomainEventId.DEVICE_ADDED,
  "device-removed": DomainEventId.DEVICE_REMOVED,
  "device-removal-failed": DomainEventId.DEVICE_REMOVAL_FAILED,
};

export const DOMAIN_EVENT_KINDS = Object.keys(DOMAIN_EVENT_IDS) as DomainEventKind[];

/** Turns what the addon delivered into a DomainEvent. */
export function decodeDomainEvent(native: NativeEvent): DomainEvent | undefined {
  const domain = { name: native.domainName, uuid: native.domainUuid };
  switch (native.kind) {
    case DomainEventId.LIFECYCLE: {
      const event = LIFECYCLE_EVENTS[native.event];
      const detail =
        event === undefined ? undefined : LIFECYCLE_EVENT_DETAILS[event][native.detail];
      return {
        kind: "lifecycle",
        domain,
        event: event ?? `unknown (${native.event})`,
        detail: detail ?? `unknown (${native.detail})`,
        eventCode: native.event,
        detailCode: native.detail,
      };
    }
    case DomainEventId.REBOOT:
      return { kind: "reboot", domain };
    case DomainEventId.DEVICE_ADDED:
      return { kind: "device-added", domain, alias: native.alias };
    case DomainEventId.DEVICE_REMOVED:
      return { kind: "device-removed", domain, alias: native.alias };
    case DomainEventId.DEVICE_REMOVAL_FAILED:
      return { kind: "device-removal-failed", domain, alias: native.alias };
    default:
      return undefined;
  }
}
