// @headroom/libvirt: libvirt through a native addon, with promises, device
// hotplug and domain events. See README.md.
export {
  type CloseListener,
  Connection,
  type CreateOptions,
  type DefineOptions,
  type DomainCapabilitiesOptions,
  type DomainEventListener,
  type DomainEventOptions,
  type ListDomainsOptions,
  type OpenOptions,
  type Unsubscribe,
} from "./connection.ts";
export {
  CLOSE_REASONS,
  type CloseReason,
  DOMAIN_STATE_REASONS,
  DOMAIN_STATES,
  DomainEventId,
  type DomainStateName,
  ErrorCode,
  ErrorDomain,
  Flags,
  LIFECYCLE_EVENT_DETAILS,
  LIFECYCLE_EVENTS,
  type LifecycleEventName,
} from "./constants.ts";
export {
  type DestroyOptions,
  type DeviceChangeOptions,
  Domain,
  type DomainInfo,
  type DomainStatus,
  type StartOptions,
  type UndefineOptions,
  type UpdateDeviceOptions,
  type XmlDescOptions,
} from "./domain.ts";
export { isLibvirtError, LibvirtError } from "./errors.ts";
export type {
  DeviceAddedEvent,
  DeviceRemovalFailedEvent,
  DeviceRemovedEvent,
  DomainEvent,
  DomainEventKind,
  EventDomain,
  LifecycleEvent,
  RebootEvent,
} from "./events.ts";
export type { KvmSupport } from "./kvm.ts";
export type { LeasedAddress, NodeInfo } from "./native.ts";
