// @headroom/launch: bring a planned domain to life with room for its NICs.

export { bridgeNetworkName, type DiskFile, ensureBridge, ensureDiskFile } from "./host.ts";
export { attachNic, DetachTimeoutError, detachNic, NoRoomError } from "./hotplug.ts";
export {
  ForeignDomainError,
  inspectRunning,
  isHeadroomDomain,
  LaunchError,
  type LaunchLog,
  type LaunchRequest,
  type LaunchResult,
  launchDomain,
  type RunningView,
  removeDomain,
} from "./launch.ts";
export { chooseVirtType, type VirtTypeChoice, type VirtTypeOptions } from "./virt_type.ts";
