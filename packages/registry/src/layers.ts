// Unpacking an image's layers into a staging tree, in order, as OCI image
// layers mean: a later layer's files replace earlier ones, and its whiteouts
// (`.wh.NAME`, `.wh..wh..opq`) delete what earlier layers put there. Only
// folders and regular files are written; a path outside the tree stops the
// unpack (node-tar, strict). What the image holds is checked again by the
// store's commit.
import { readdirSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { IMAGE_ENTRY_TYPES } from "@headroom/images";
import { extract } from "tar";
import { RegistryError } from "./client.ts";

/** Layer media types headroom unpacks: tar, plain or gzip'd (node-tar tells them apart). */
export const LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.docker.image.rootfs.diff.tar",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
]);

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

export interface Unpacked {
  /** Bytes of the files written so far, over every layer. */
  bytes: number;
  /** Entries that are neither files nor folders (refused at the end). */
  refused: string[];
}

/**
 * Unpacks one layer file into `root`. `seen` carries over from earlier layers;
 * past `maxBytes` of files nothing more is written and the unpack fails.
 */
export async function unpackLayer(
  file: string,
  root: string,
  seen: Unpacked,
  maxBytes: number,
): Promise<void> {
  const inside = (path: string) => {
    const full = resolve(root, path);
    if (full !== root && !full.startsWith(root + sep))
      throw new RegistryError(`a layer names ${JSON.stringify(path)}, outside the image`);
    return full;
  };
  let tooLarge = false;
  await extract({
    file,
    cwd: root,
    strict: true,
    preserveOwner: false,
    filter: (path, entry) => {
      const name = basename(path);
      if (name === OPAQUE) {
        const dir = inside(dirname(path));
        for (const child of readdirSafe(dir))
          rmSync(join(dir, child), { recursive: true, force: true });
        return false;
      }
      if (name.startsWith(WHITEOUT)) {
        rmSync(inside(join(dirname(path), name.slice(WHITEOUT.length))), {
          recursive: true,
          force: true,
        });
        return false;
      }
      const type = "type" in entry ? entry.type : "File";
      if (!IMAGE_ENTRY_TYPES.has(type)) {
        seen.refused.push(`${path} (${type})`);
        return false;
      }
      seen.bytes += "size" in entry ? (entry.size ?? 0) : 0;
      if (seen.bytes > maxBytes) tooLarge = true;
      return !tooLarge;
    },
  });
  if (tooLarge)
    throw new RegistryError(
      `the image unpacks to more than this host's limit of ${maxBytes} bytes`,
    );
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
