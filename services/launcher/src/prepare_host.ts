// What a plan needs on the host before its domain is defined: disk overlays
// (on the disks of images this host holds), cloud-init seed disks, the console
// log's directory, host bridges, the pod network.
import { randomBytes } from "node:crypto";
import { link, mkdir, rename } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "@headroom/bus";
import {
  type DiskFile,
  ensureBridge,
  ensureDiskFile,
  ensurePodNetwork,
  ensureSeedDisk,
  exists,
  LaunchError,
  makeDomainFilesDir,
  type SeedDisk,
} from "@headroom/domain-manager";
import { type PodSubnet, usesPodNetwork } from "@headroom/domain-xml";
import { detectDiskFormat, type ImageStore } from "@headroom/images";
import type { Connection } from "@headroom/libvirt";
import {
  CloudInitSeed,
  type DomainPlan,
  type ICloudInitSeed,
  type IDiskFile,
} from "@headroom/proto";
import { ensureHostDisk } from "./host_disks.ts";

/** An overlay backed by the disk of an image this host holds, or a blank disk. */
async function diskFileOf(file: IDiskFile, images: ImageStore): Promise<DiskFile> {
  const path = file.path ?? "";
  const ref = file.image;
  if (!ref) return { path, blankSizeBytes: Number(file.blankSizeBytes) };
  const inImage = file.imageDiskPath;
  const backingPath = await pinnedBase(path, () =>
    inImage ? images.resolveFile(ref, inImage) : images.diskOf(ref),
  );
  return { path, backingPath, backingFormat: await detectDiskFormat(backingPath) };
}

/** The seed disk a plan's cloud-init file asks for (the plan check has seen its fields). */
function seedDiskOf(file: IDiskFile, seed: ICloudInitSeed): SeedDisk {
  return {
    path: file.path ?? "",
    kind: seed.kind === CloudInitSeed.Kind.KIND_NOCLOUD ? "nocloud" : "configdrive",
    instanceId: seed.instanceId ?? "",
    hostname: seed.hostname ?? "",
    userData: seed.userData ?? new Uint8Array(),
    ...(seed.networkData ? { networkData: seed.networkData } : {}),
  };
}

/**
 * The image disk an overlay reads, pinned beside it: a hard link in the VM's
 * directory (`<volume>.base`), so an upload that replaces the image, or its
 * deletion, never takes the data from under a VM made on it. An overlay that
 * exists keeps the base it was made on; the link goes with the VM's directory.
 * Where the store is on another file system, the overlay reads the store's file.
 */
async function pinnedBase(overlay: string, imageDisk: () => Promise<string>): Promise<string> {
  const base = `${overlay.replace(/\.qcow2$/, "")}.base`;
  const [hasOverlay, hasBase] = await Promise.all([exists(overlay), exists(base)]);
  if (hasOverlay && hasBase) return base;
  if (hasOverlay) return imageDisk();
  await makeDomainFilesDir(dirname(overlay));
  const fresh = `${base}.${randomBytes(4).toString("hex")}`;
  // A fetch replacing the image may remove the disk just found: find it again.
  for (let attempt = 1; ; attempt++) {
    const disk = await imageDisk();
    try {
      await link(disk, fresh);
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EXDEV") return disk;
      if (code !== "ENOENT" || attempt >= 3) throw error;
    }
  }
  await rename(fresh, base);
  return base;
}

/** Where a plan's host needs are made. */
export interface HostPlace {
  conn: Connection;
  images: ImageStore;
  podSubnet: PodSubnet;
  /** The disk of headroom volume `name`. */
  volumeDisk: (name: string) => string;
}

// Each file, bridge and network is its own: they are made at once.
export async function prepareHost(
  { conn, images, podSubnet, volumeDisk }: HostPlace,
  plan: DomainPlan,
  log: Logger,
): Promise<void> {
  const disks = plan.diskFiles.map(async (file) => {
    try {
      if (file.cloudInit) await ensureSeedDisk(seedDiskOf(file, file.cloudInit));
      // A volume's disk exists already (the plan claimed it); an ephemeral
      // one is read through an overlay, as an image's disk.
      else if (file.volume?.ephemeral) {
        const backingPath = volumeDisk(file.volume.name ?? "");
        // A volume made from an image reads the image's disk, kept beside it.
        const backingBase = join(dirname(backingPath), "base");
        await ensureDiskFile({
          path: file.path ?? "",
          backingPath,
          backingFormat: "qcow2",
          backingBase,
        });
      } else if (file.volume) return;
      else if (file.hostDisk) {
        if (file.hostDisk.create && (await ensureHostDisk(file)) === "created")
          log.info(
            { path: file.path, bytes: Number(file.hostDisk.capacityBytes) },
            "host disk created",
          );
      } else await ensureDiskFile(await diskFileOf(file, images));
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
  const podNetwork = usesPodNetwork(plan.domainXml ?? "")
    ? ensurePodNetwork(conn, podSubnet).then(
        (outcome) => {
          if (outcome === "created") log.info({ subnet: podSubnet }, "pod network created");
        },
        (error) => {
          throw new LaunchError("prepare the pod network", error);
        },
      )
    : undefined;
  await Promise.all([...disks, consoleDir, ...bridges, podNetwork]);
}
