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

export async function prepareHost(conn: Connection, plan: DomainPlan, log: Logger): Promise<void> {
  for (const file of diskFilesOf(plan)) {
    await ensureDiskFile(file).catch((error) => {
      throw new LaunchError(`prepare disk ${file.path}`, error);
    });
  }
  if (plan.consoleLogPath) {
    // virtlogd writes the console log; QEMU never reads it.
    await mkdir(dirname(plan.consoleLogPath), { recursive: true });
  }
  for (const bridge of plan.bridges) {
    const outcome = await ensureBridge(conn, bridge).catch((error) => {
      throw new LaunchError(`prepare bridge ${bridge}`, error);
    });
    if (outcome === "created") log.info({ bridge }, "host bridge created");
  }
}
