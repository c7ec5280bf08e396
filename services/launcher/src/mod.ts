// @headroom/launcher: the service that owns the domains of its libvirt host.
export { type Launcher, type LauncherOptions, startLauncher } from "./launcher.ts";
