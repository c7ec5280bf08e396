// An image's layers, as OCI image layers mean them. Each layer is unpacked
// once into the image store's layers, as its archive holds it (whiteout files
// included; only folders and regular files written; a path outside the tree
// stops the unpack: node-tar, strict). An image is then made by applying its
// layers in order to an empty tree: a later layer's files replace earlier
// ones (as hard links to the layer's files, so nothing is copied), and its
// whiteouts (`.wh.NAME`, `.wh..wh..opq`) delete what earlier layers put there.
import { link, lstat, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
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
  /** Bytes of the files written. */
  bytes: number;
  /** Entries that are neither files nor folders (refused by the caller). */
  refused: string[];
}

/**
 * Unpacks one layer archive into `root`, as it is. Past `maxBytes` of files
 * nothing more is written and the unpack fails.
 */
export async function unpackLayer(file: string, root: string, maxBytes: number): Promise<Unpacked> {
  const seen: Unpacked = { bytes: 0, refused: [] };
  let tooLarge = false;
  await extract({
    file,
    cwd: root,
    strict: true,
    preserveOwner: false,
    filter: (path, entry) => {
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
    throw new RegistryError(`a layer unpacks to more than this host's limit of ${maxBytes} bytes`);
  return seen;
}

/** Applies the unpacked layer at `layerRoot` on top of the image tree `root`. */
export async function applyLayer(layerRoot: string, root: string): Promise<void> {
  const entries = await readdir(layerRoot, { withFileTypes: true });
  const names = new Set(entries.map((entry) => entry.name));
  // Whiteouts hide what lower layers hold, never what this layer adds.
  if (names.has(OPAQUE))
    for (const child of await readdir(root))
      await rm(join(root, child), { recursive: true, force: true });
  for (const { name } of entries) {
    if (name === OPAQUE || !name.startsWith(WHITEOUT)) continue;
    const hidden = name.slice(WHITEOUT.length);
    if (hidden === "" || hidden === "." || hidden === "..")
      throw new RegistryError(
        `a layer holds the whiteout ${JSON.stringify(name)}, which hides no file`,
      );
    await rm(join(root, hidden), { recursive: true, force: true });
  }
  for (const entry of entries) {
    if (entry.name.startsWith(WHITEOUT)) continue;
    const from = join(layerRoot, entry.name);
    const to = join(root, entry.name);
    const existing = await lstat(to).catch(() => undefined);
    if (entry.isDirectory()) {
      if (existing && !existing.isDirectory()) await rm(to, { recursive: true, force: true });
      if (!existing?.isDirectory()) await mkdir(to);
      await applyLayer(from, to);
    } else {
      if (existing) await rm(to, { recursive: true, force: true });
      await link(from, to);
    }
  }
}
