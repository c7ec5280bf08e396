// A cloud-init seed disk: the files cloud-init looks for, in an ISO 9660
// image made by genisoimage (the tool cloud-init's own documentation and
// KubeVirt use), labelled as the datasource expects: `cidata` for NoCloud,
// `config-2` for an OpenStack config drive.
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { exists, makeDomainFilesDir } from "./files.ts";

const run = promisify(execFile);

export interface SeedDisk {
  path: string;
  kind: "nocloud" | "configdrive";
  instanceId: string;
  hostname: string;
  userData: Uint8Array;
  /** Absent: no network configuration file. */
  networkData?: Uint8Array;
}

/** The files of the seed, by path inside the image. */
export function seedFiles(seed: SeedDisk): Record<string, Uint8Array | string> {
  const { instanceId, hostname, userData, networkData } = seed;
  // JSON is YAML too: no value can break out of its field.
  if (seed.kind === "nocloud")
    return {
      "meta-data": `${JSON.stringify({ "instance-id": instanceId, "local-hostname": hostname })}\n`,
      "user-data": userData,
      ...(networkData ? { "network-config": networkData } : {}),
    };
  const latest = "openstack/latest";
  return {
    [`${latest}/meta_data.json`]: `${JSON.stringify({ uuid: instanceId, hostname, name: hostname })}\n`,
    [`${latest}/user_data`]: userData,
    ...(networkData ? { [`${latest}/network_data.json`]: networkData } : {}),
  };
}

/**
 * Makes the seed disk when it is missing, and keeps it when it exists (a VMI's
 * cloud-init data never changes). Written beside its place and renamed into
 * it, so a launch never finds half a disk.
 */
export async function ensureSeedDisk(seed: SeedDisk): Promise<"created" | "kept"> {
  if (await exists(seed.path)) return "kept";
  await makeDomainFilesDir(dirname(seed.path));
  const work = await mkdtemp(`${seed.path}.`);
  try {
    const tree = join(work, "tree");
    for (const [name, content] of Object.entries(seedFiles(seed))) {
      await mkdir(dirname(join(tree, name)), { recursive: true });
      await writeFile(join(tree, name), content);
    }
    const label = seed.kind === "nocloud" ? "cidata" : "config-2";
    const image = join(work, "seed.iso");
    await run("genisoimage", [
      "-quiet",
      "-output",
      image,
      "-volid",
      label,
      "-joliet",
      "-rock",
      tree,
    ]);
    await chmod(image, 0o644);
    await rename(image, seed.path);
    return "created";
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
