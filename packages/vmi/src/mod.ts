export {
  matchesLabels,
  parseLabelSelector,
  type Requirement,
  type SelectorResult,
} from "@headroom/labels";
export {
  INTERFACE_RESOURCE,
  interfaceCapacity,
  MAX_INTERFACE_REQUEST,
  MIN_INTERFACE_REQUEST,
  vmiKey,
} from "./capacity.ts";
export { DocumentError, MAX_DOCUMENT_BYTES, parseDocument } from "./document.ts";
export { type InterfaceToAdd, withInterfaceAdded, withInterfaceRemoved } from "./edit.ts";
export { imagePullPolicies, imagesUsedBy } from "./images.ts";
export { type GuestPort, type GuestResources, guestResources } from "./resources.ts";
export type { Capacity, FieldError, ValidationResult } from "./result.ts";
export {
  DEFAULT_GUEST_MEMORY,
  DEFAULT_TERMINATION_GRACE_SECONDS,
  decodeBase64,
  MAX_ANNOTATIONS_BYTES,
  MAX_MEMORY_BYTES,
  MIN_MEMORY_BYTES,
} from "./rules.ts";
export { VMI_SCHEMA_URL, vmiSchema } from "./schema.ts";
export type {
  Bootloader,
  CdromBus,
  CloudInit,
  Cpu,
  CpuFeature,
  CpuFeaturePolicy,
  Devices,
  Disk,
  DiskBus,
  DiskCache,
  DiskErrorPolicy,
  DiskIo,
  DomainSpec,
  Empty,
  Features,
  HostDisk,
  ImagePullPolicy,
  Interface,
  InterfaceBinding,
  InterfaceModel,
  KernelBoot,
  MachineType,
  Network,
  NodeAffinity,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  QuantityValue,
  Resources,
  Vmi,
  VmiMetadata,
  VmiSpec,
  Volume,
} from "./types.ts";
export { interfaceBinding, networkAttachment, volumeClaimOf } from "./types.ts";
export { validateUpdate, validateVmi } from "./validate.ts";
