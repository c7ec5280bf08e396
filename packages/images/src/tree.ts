// The file trees the image store keeps: what they may hold, the modes QEMU
// needs, and the small file-system helpers the store's parts share.
import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ImageSourceError } from "./errors.ts";

/** Regular files in a tree and the sum of their sizes in bytes. */
export interface TreeSize {
  files: number;
  sizeBytes: number;
}

/**
 * Only directories and regular files go into an image: a symlink could point
 * anywhere. Counts the files and their sizes on the way.
 */
export async function checkTree(dir: string, shownAs: string): Promise<TreeSize> {
  let files = 0;
  let sizeBytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const shown = join(shownAs, entry.name);
    if (entry.isDirectory()) {
      const inner = await checkTree(path, shown);
      files += inner.files;
      sizeBytes += inner.sizeBytes;
    } else if (entry.isFile()) {
      files++;
      sizeBytes += (await lstat(path)).size;
    } else if (entry.isSymbolicLink()) {
      throw new ImageSourceError(`${shown} is a symbolic link; images hold only files and folders`);
    } else if (!entry.isFile()) {
      throw new ImageSourceError(
        `${shown} is not a regular file; images hold only files and folders`,
      );
    }
  }
  return { files, sizeBytes };
}

/** Sets 0755 on directories and 0644 on files: QEMU runs as another user. */
export async function normaliseTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await normaliseTree(path);
    else await chmod(path, 0o644);
  }
}

/** Creates the store and its parents with mode 0755 whatever the umask. */
export async function ensureDirs(storeDir: string, dirs: string[]): Promise<void> {
  const missing: string[] = [];
  for (let at = storeDir; !(await exists(at)); at = dirname(at)) {
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const path of missing) {
    await mkdir(path, { recursive: true });
    await chmod(path, 0o755);
  }
  for (const path of dirs) {
    if (await exists(path)) continue;
    await mkdir(path, { recursive: true });
    await chmod(path, 0o755);
  }
}

export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

export function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === "ENOENT";
}
