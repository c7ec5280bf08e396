// hostDisk volumes: raw files of the host's, which a VMI may use only under
// the directories the host's administrator lists (HEADROOM_HOST_DISK_DIRS;
// none by default). The launcher acts as root, so the list is the whole of
// what a plan can reach here: links are followed before a path is judged,
// and only regular files are taken (never a block device).
import { constants } from "node:fs";
import { lstat, open, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, normalize, sep } from "node:path";
import type { IDiskFile } from "@headroom/proto";

// The validator takes hostDisk capacities from 1 MiB to 1 TiB.
const MAX_HOST_DISK_BYTES = 2 ** 40;

/** HEADROOM_HOST_DISK_DIRS: absolute directories separated by ':'; empty allows none. */
export function parseHostDiskDirs(value: string | undefined): string[] {
  const dirs = (value ?? "").split(":").filter((dir) => dir !== "");
  for (const dir of dirs) {
    if (!isAbsolute(dir))
      throw new Error(
        `HEADROOM_HOST_DISK_DIRS: ${JSON.stringify(dir)} is not an absolute directory`,
      );
  }
  return dirs.map((dir) => normalize(dir).replace(/(.)\/$/, "$1"));
}

/** Every reason the plan's host disk `file` is not one this host gives a guest; empty when none. */
export async function hostDiskProblems(
  field: string,
  file: IDiskFile,
  allowedDirs: readonly string[],
): Promise<string[]> {
  const path = file.path ?? "";
  const shown = JSON.stringify(path);
  if (!isAbsolute(path) || normalize(path) !== path)
    return [`${field}.path ${shown} is not an absolute, normalized path`];
  if (allowedDirs.length === 0)
    return [
      `${field}: host disk ${shown}: this host allows no host disks (its launcher's HEADROOM_HOST_DISK_DIRS is empty)`,
    ];
  const create = file.hostDisk?.create === true;
  const real = await realFile(path, create);
  if (real === "missing")
    return [
      `${field}: host disk ${shown} does not exist (type Disk takes a file that exists; DiskOrCreate makes it)`,
    ];
  if (real === "dangling") return [`${field}: host disk ${shown} is a link to nothing`];
  const roots = await Promise.all(allowedDirs.map((dir) => realpath(dir).catch(() => null)));
  if (!roots.some((root) => root !== null && real.path.startsWith(root + sep)))
    return [
      `${field}: host disk ${shown} is not under a directory this host allows for host disks (${allowedDirs.join(", ")})`,
    ];
  const problems: string[] = [];
  if (real.exists && !(await lstat(real.path)).isFile())
    problems.push(`${field}: host disk ${shown} is not a regular file`);
  const size = Number(file.hostDisk?.capacityBytes ?? 0);
  if (
    create &&
    real.exists === false &&
    (!Number.isSafeInteger(size) || size <= 0 || size > MAX_HOST_DISK_BYTES)
  )
    problems.push(`${field}.hostDisk.capacityBytes ${size} is not between 1 byte and 1 TiB`);
  return problems;
}

/**
 * `path` with every link followed; for a file to be made, its directory's.
 * A link whose target is missing is never made through: it could lead anywhere.
 */
async function realFile(
  path: string,
  create: boolean,
): Promise<{ path: string; exists: boolean } | "missing" | "dangling"> {
  try {
    return { path: await realpath(path), exists: true };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return "missing";
  }
  if (
    await lstat(path).then(
      () => true,
      () => false,
    )
  )
    return "dangling";
  if (!create) return "missing";
  try {
    return { path: `${await realpath(dirname(path))}${sep}${basename(path)}`, exists: false };
  } catch {
    return "missing";
  }
}

/**
 * Makes a DiskOrCreate file that does not exist yet: sparse, its capacity
 * long. A file that exists is the user's and is left as it is.
 */
export async function ensureHostDisk(file: IDiskFile): Promise<"created" | "exists"> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_EXCL: never truncate a file someone made meanwhile; O_NOFOLLOW: never through a link.
    handle = await open(
      file.path ?? "",
      constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
      0o660,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return "exists";
    throw error;
  }
  try {
    await handle.truncate(Number(file.hostDisk?.capacityBytes ?? 0));
  } finally {
    await handle.close();
  }
  return "created";
}
