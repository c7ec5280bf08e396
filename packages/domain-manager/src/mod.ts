// @headroom/domain-manager: bring a planned domain to life with room for its NICs.

export { exists, makeDomainFilesDir } from "./files.ts";
export { bridgeNetworkName, type DiskFile, ensureBridge, ensureDiskFile } from "./host.ts";
export { chooseVirtType, type VirtTypeChoice, type VirtTypeOptions } from "./kvm_check.ts";
export {
  domainOwner,
  ForeignDomainError,
  inspectRunning,
  isHeadroomDomain,
  LaunchError,
  type LaunchLog,
  type LaunchRequest,
  type LaunchResult,
  launchDomain,
  leasedAddress,
  leasedAddresses,
  type RunningView,
  removeDomain,
} from "./launch.ts";
export { attachNic, DetachTimeoutError, detachNic, NoRoomError } from "./nic_hotplug.ts";
export { ensurePodNetwork } from "./pod_network.ts";
export { ensureSeedDisk, type SeedDisk, seedFiles } from "./seed_disk.ts";
export { type ShutdownOptions, type ShutdownOutcome, shutDownGuest } from "./shutdown.ts";
