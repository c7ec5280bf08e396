import { execFile } from "node:child_process";
import { access, chmod, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A disk file a domain needs on this host before it can start. */
export type DiskFile =
  | { path: string; backingPath: string; backingFormat: string }
  | { path: string; blankSizeBytes: number };

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Creates a disk file unless it exists: a qcow2 overlay on a read-only image
 * (the image is never written) or a blank qcow2. Kept on redelivery, so a
 * relaunch does not wipe what the guest wrote.
 */
export async function ensureDiskFile(disk: DiskFile): Promise<"created" | "kept"> {
  if (await exists(disk.path)) return "kept";
  const dir = dirname(disk.path);
  await mkdir(dir, { recursive: true });
  // QEMU runs as its own user and must reach the file.
  await chmod(dir, 0o755);
  const args =
    "backingPath" in disk
      ? ["create", "-q", "-f", "qcow2", "-F", disk.backingFormat, "-b", disk.backingPath, disk.path]
      : ["create", "-q", "-f", "qcow2", disk.path, String(disk.blankSizeBytes)];
  await run("qemu-img", args);
  return "created";
}

// Linux interface names: 1–15 characters; these are the only ones headroom makes.
const BRIDGE_NAME = /^[A-Za-z0-9_-]{1,15}$/;

/** Creates a host Linux bridge with no uplink unless it exists, and brings it up. */
export async function ensureBridge(name: string): Promise<"created" | "kept"> {
  if (!BRIDGE_NAME.test(name)) throw new Error(`"${name}" is not a bridge name headroom creates`);
  const present = await run("ip", ["link", "show", "dev", name]).then(
    () => true,
    () => false,
  );
  if (!present) {
    await run("ip", ["link", "add", "name", name, "type", "bridge"]).catch(async (error) => {
      // Another launch created it meanwhile.
      if (
        !(await run("ip", ["link", "show", "dev", name]).then(
          () => true,
          () => false,
        ))
      )
        throw error;
    });
  }
  await run("ip", ["link", "set", "dev", name, "up"]);
  return present ? "kept" : "created";
}
