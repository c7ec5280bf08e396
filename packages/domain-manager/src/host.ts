// What a domain needs on this host before it can start, made in-process: no
// child process on the launch path (qemu-img and ip cost milliseconds each),
// but for a bridge in a container (see createBridge).
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import {
  createQcow2,
  DiskFormatError,
  inspectDisk,
  type Qcow2Options,
  requireSelfContained,
} from "@headroom/disk-format";
import { bridgeNetworkXml } from "@headroom/domain-xml";
import { type Connection, ErrorCode, isLibvirtError } from "@headroom/libvirt";
import { exists, makeDomainFilesDir } from "./files.ts";

/** A disk file a domain needs on this host before it can start. */
export type DiskFile =
  | {
      path: string;
      backingPath: string;
      backingFormat: string;
      /** The one file the backing may read in turn (a volume made from an image reads its base). */
      backingBase?: string;
    }
  | { path: string; blankSizeBytes: number };

/**
 * An overlay on the backing image, checked by its bytes before a guest is
 * given it: the format the plan says, and nothing outside itself.
 */
async function overlayOn(disk: {
  backingPath: string;
  backingFormat: string;
  backingBase?: string;
}): Promise<Qcow2Options> {
  const image = await inspectDisk(disk.backingPath);
  if (disk.backingBase !== undefined && image.backingFile !== undefined) {
    if (image.backingFile !== disk.backingBase)
      throw new DiskFormatError(
        disk.backingPath,
        `reads ${JSON.stringify(image.backingFile)}, not its base ${disk.backingBase}`,
      );
    requireSelfContained(disk.backingBase, await inspectDisk(disk.backingBase));
    requireSelfContained(disk.backingPath, { ...image, backingFile: undefined });
  } else requireSelfContained(disk.backingPath, image);
  if (image.format !== disk.backingFormat) {
    throw new DiskFormatError(
      disk.backingPath,
      `is ${image.format}, not ${disk.backingFormat} as planned`,
    );
  }
  return {
    virtualSizeBytes: image.virtualSizeBytes,
    backing: { path: disk.backingPath, format: image.format },
  };
}

/** A disk kept from an earlier launch must still be the one headroom made. */
async function checkKept(disk: DiskFile): Promise<void> {
  const info = await inspectDisk(disk.path);
  if (info.format !== "qcow2")
    throw new DiskFormatError(disk.path, `is ${info.format}, not the qcow2 headroom made`);
  if ("backingPath" in disk) {
    if (info.backingFile !== disk.backingPath || info.backingFormat !== disk.backingFormat) {
      throw new DiskFormatError(
        disk.path,
        `reads ${JSON.stringify(info.backingFile ?? null)}, not its image ${disk.backingPath}`,
      );
    }
    requireSelfContained(disk.path, { ...info, backingFile: undefined });
  } else {
    requireSelfContained(disk.path, info);
  }
}

/**
 * Creates a disk file unless it exists: a qcow2 overlay on a read-only image
 * (the image is never written) or a blank qcow2. Kept on redelivery, so a
 * relaunch does not wipe what the guest wrote; either way its backing chain
 * is checked before a guest may read it.
 */
export async function ensureDiskFile(disk: DiskFile): Promise<"created" | "kept"> {
  const options: Qcow2Options =
    "backingPath" in disk ? await overlayOn(disk) : { virtualSizeBytes: disk.blankSizeBytes };
  if (await exists(disk.path)) {
    await checkKept(disk);
    return "kept";
  }
  await makeDomainFilesDir(dirname(disk.path));
  try {
    await createQcow2(disk.path, options);
    return "created";
  } catch (error) {
    // Another launch of the same plan made it meanwhile.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    await checkKept(disk);
    return "kept";
  }
}

// Linux interface names: 1–15 characters; these are the only ones headroom makes.
const BRIDGE_NAME = /^[A-Za-z0-9_-]{1,15}$/;
const IFF_UP = 0x1;
const BRIDGE_UP_WAIT_MS = 1_000;

/** The libvirt network that holds a bridge headroom made. */
export function bridgeNetworkName(bridge: string): string {
  return `headroom-bridge-${bridge}`;
}

type LinkState = "absent" | "bridge-up" | "bridge-down" | "not-a-bridge";

export async function linkState(name: string): Promise<LinkState> {
  const sys = `/sys/class/net/${name}`;
  if (!(await exists(sys))) return "absent";
  if (!(await exists(`${sys}/bridge`))) return "not-a-bridge";
  const flags = Number.parseInt((await readFile(`${sys}/flags`, "utf8")).trim(), 16);
  return flags & IFF_UP ? "bridge-up" : "bridge-down";
}

const run = promisify(execFile);
let sysctlsWritable: Promise<boolean> | undefined;

/**
 * Whether /proc/sys/net can be written here. libvirt sets a new bridge's IPv6
 * sysctls there and fails where it is read-only, as in a Docker container
 * that is not privileged.
 */
export function netSysctlsWritable(): Promise<boolean> {
  sysctlsWritable ??= access("/proc/sys/net/ipv6/conf/default/disable_ipv6", constants.W_OK).then(
    () => true,
    (error: NodeJS.ErrnoException) => error.code !== "EROFS",
  );
  return sysctlsWritable;
}

/**
 * A new bridge: a transient libvirt network where libvirt can make it (it goes
 * at reboot), else made with ip (in a container's network namespace: it goes
 * with the container).
 */
async function createBridge(conn: Connection, bridge: string): Promise<void> {
  if (await netSysctlsWritable()) return createBridgeNetwork(conn, bridge);
  await run("ip", ["link", "add", "name", bridge, "type", "bridge"]);
  await run("ip", ["link", "set", "dev", bridge, "up"]);
}

async function createBridgeNetwork(conn: Connection, bridge: string): Promise<void> {
  const network = bridgeNetworkName(bridge);
  const xml = bridgeNetworkXml(network, bridge);
  try {
    await conn.createNetworkXml(xml);
  } catch (error) {
    // Ours, but its bridge was deleted by hand (the network outlives it): start it again.
    const exists =
      isLibvirtError(error, ErrorCode.OPERATION_FAILED) && /already exists/.test(error.message);
    if (!exists || (await linkState(bridge)) !== "absent") throw error;
    await conn.destroyNetwork(network).catch(() => undefined);
    await conn.createNetworkXml(xml);
  }
}

// Launches that need the same bridge at once share one check.
const bridgesInHand = new Map<string, Promise<"created" | "kept">>();

/**
 * Makes sure a host bridge is there and up. A missing one is created with no
 * uplink (createBridge); one that is there but is not a bridge, or
 * stays down, belongs to someone else and is left as it is, with an error.
 */
export function ensureBridge(conn: Connection, name: string): Promise<"created" | "kept"> {
  if (!BRIDGE_NAME.test(name)) {
    return Promise.reject(new Error(`"${name}" is not a bridge name headroom creates`));
  }
  let inHand = bridgesInHand.get(name);
  if (!inHand) {
    inHand = checkOrCreateBridge(conn, name).finally(() => bridgesInHand.delete(name));
    bridgesInHand.set(name, inHand);
  }
  return inHand;
}

async function checkOrCreateBridge(conn: Connection, name: string): Promise<"created" | "kept"> {
  let state = await linkState(name);
  if (state === "absent") {
    try {
      await createBridge(conn, name);
      return "created";
    } catch (error) {
      // Another process created it meanwhile.
      state = await linkState(name);
      if (state === "absent") throw error;
    }
  }
  if (state === "not-a-bridge")
    throw new Error(`host interface ${name} exists and is not a bridge`);
  // A bridge libvirt is making for another process is down for a moment.
  for (let waited = 0; state === "bridge-down" && waited < BRIDGE_UP_WAIT_MS; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    state = await linkState(name);
  }
  if (state === "bridge-down") {
    throw new Error(
      `host bridge ${name} is down; headroom does not change bridges it did not make (ip link set dev ${name} up)`,
    );
  }
  return "kept";
}
