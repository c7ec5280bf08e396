// What a plan needs on the host before its domain is defined: disk overlays
// (on the disks of images this host holds), the console log's directory,
// host bridges.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "@headroom/bus";
import { type DiskFile, ensureBridge, ensureDiskFile, LaunchError } from "@headroom/domain-manager";
import { detectDiskFormat, type ImageStore } from "@headroom/images";
import type { Connection } from "@headroom/libvirt";
import type { DomainPlan, IDiskFile } from "@headroom/proto";

/** An overlay backed by the disk of an image this host holds, or a blank disk. */
async function diskFileOf(file: IDiskFile, images: ImageStore): Promise<DiskFile> {
  const path = file.path ?? "";
  if (!file.image) return { path, blankSizeBytes: Number(file.blankSizeBytes) };
  const backingPath = await images.diskOf(file.image);
  return { path, backingPath, backingFormat: await detectDiskFormat(backingPath) };
}

// Each file and bridge is its own: they are made at once.
export async function prepareHost(
  conn: Connection,
  images: ImageStore,
  plan: DomainPlan,
  log: Logger,
): Promise<void> {
  const disks = plan.diskFiles.map(async (file) => {
    try {
      await ensureDiskFile(await diskFileOf(file, images));
    } catch (error) {
      throw new LaunchError(`prepare disk ${file.path}`, error);
    }
  });
  // virtlogd writes the console log; QEMU never reads it.
  const consoleDir = plan.consoleLogPath
    ? mkdir(dirname(plan.consoleLogPath), { recursive: true })
    : undefined;
  const bridges = plan.bridges.map(async (bridge) => {
    const outcome = await ensureBridge(conn, bridge).catch((error) => {
      throw new LaunchError(`prepare bridge ${bridge}`, error);
    });
    if (outcome === "created") log.info({ bridge }, "host bridge created");
  });
  await Promise.all([...disks, consoleDir, ...bridges]);
}
