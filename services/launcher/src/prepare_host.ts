// What a plan needs on the host before its domain is defined: disk overlays,
// the console log's directory, host bridges.
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "@headroom/bus";
import { type DiskFile, ensureBridge, ensureDiskFile, LaunchError } from "@headroom/domain-manager";
import type { Connection } from "@headroom/libvirt";
import type { DomainPlan } from "@headroom/proto";

function diskFilesOf(plan: DomainPlan): DiskFile[] {
  return plan.diskFiles.map((file) => {
    const path = file.path ?? "";
    return file.backingPath
      ? { path, backingPath: file.backingPath, backingFormat: file.backingFormat || "qcow2" }
      : { path, blankSizeBytes: Number(file.blankSizeBytes) };
  });
}

// Each file and bridge is its own: they are made at once.
export async function prepareHost(conn: Connection, plan: DomainPlan, log: Logger): Promise<void> {
  const disks = diskFilesOf(plan).map((file) =>
    ensureDiskFile(file).catch((error) => {
      throw new LaunchError(`prepare disk ${file.path}`, error);
    }),
  );
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
