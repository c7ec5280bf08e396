// @headroom/launch: bring a planned domain to life with room for its NICs.

export { type DiskFile, ensureBridge, ensureDiskFile } from "./host.ts";
export {
  inspectRunning,
  LaunchError,
  type LaunchLog,
  type LaunchRequest,
  type LaunchResult,
  launchDomain,
  removeDomain,
} from "./launch.ts";
export { chooseVirtType, type VirtTypeChoice } from "./virt_type.ts";
