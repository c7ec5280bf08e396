/** @headroom/domain-xml: libvirt domain XML for headroom, composed and read with @xmldom/xmldom. */

export { machineTypes } from "./capabilities.ts";
export {
  composeDomain,
  DISK_ALIAS_PREFIX,
  diskAlias,
  diskTargets,
  NIC_ALIAS_PREFIX,
  nicAlias,
  nicXml,
  USER_ALIAS_PREFIX,
} from "./compose.ts";
export {
  type ComposedAllowance,
  composedDomainProblems,
  type GuestAllowance,
} from "./composed_check.ts";
export { domainSpecFromVmi, type HostPlacement } from "./from_vmi.ts";
export { interfaceXmlByAlias, pinInterface } from "./interface_xml.ts";
export {
  bridgeNetworkXml,
  DEFAULT_POD_SUBNET,
  isHeadroomPodNetwork,
  POD_BRIDGE,
  POD_NETWORK,
  type PodSubnet,
  parsePodSubnet,
  podBridgeNetworkXml,
  podNetworkXml,
  usesPodNetwork,
} from "./network.ts";
export { OWNER_XMLNS, ownerOf, withOwner } from "./owner.ts";
export {
  addPlaceholders,
  MAX_PLACEHOLDERS,
  PLACEHOLDER_ALIAS_PREFIX,
  PLACEHOLDER_DEV_PREFIX,
  placeholderCount,
  placeholderInterfaces,
  stripPlaceholders,
} from "./placeholders.ts";
export {
  type ClockSpec,
  type CpuFeatureSpec,
  checkDomainSpec,
  checkNic,
  DEFAULT_NIC_MODEL,
  type DiskBus,
  type DiskFormat,
  type DiskSpec,
  type DomainSpec,
  DomainSpecError,
  type EfiSpec,
  isBridgeName,
  type KernelBootSpec,
  type MachineFamily,
  NIC_MODELS,
  type NicKind,
  type NicModel,
  type NicSpec,
  type TimerSpec,
  type VirtType,
} from "./spec.ts";
export {
  type ControllersAdded,
  controllersAdded,
  formatPciAddress,
  freeHotplugSlots,
  type HotplugSlot,
  type InterfaceInfo,
  interfacesOf,
  machineFamily,
  type PciAddress,
  type PciController,
  type PciDevice,
  parsePciAddress,
  pciAddressesOf,
  protectNonNicRootPorts,
  readTopology,
  type Topology,
} from "./topology.ts";
export { withVirtType } from "./virt_type.ts";
export { DomainXmlError } from "./xml.ts";
