// The layers of registry images, kept once per digest in the image store:
//
//   <dir>/layers/<algorithm>-<hex>/   the layer's files as its archive holds
//                                     them (whiteout files included)
//
// An image made of layers holds hard links to their files (see applyLayer in
// @headroom/registry), so a disk two images share takes its room once, and
// an image whose layers are held is made without a byte downloaded.
import { randomBytes } from "node:crypto";
import { lstat, mkdir, rename, rm, utimes } from "node:fs/promises";
import { join } from "node:path";
import { ImageSourceError } from "./errors.ts";
import { checkTree, ensureDirs, isMissing, normaliseTree, readdirOrEmpty } from "./tree.ts";

/** A layer being unpacked: files go under `root`; commit() keeps them under the layer's digest. */
export interface LayerStaging {
  readonly root: string;
  /** Checks the files (only files and folders) and keeps them; resolves with the held layer's root. */
  commit(): Promise<string>;
  discard(): Promise<void>;
}

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const LAYERS = "layers";
const ROOT = "root";

/** The layer's directory; throws for anything that is not an OCI digest. */
function layerDir(storeDir: string, digest: string): string {
  if (!DIGEST.test(digest))
    throw new ImageSourceError(`${JSON.stringify(digest.slice(0, 80))} is not a layer digest`);
  return join(storeDir, LAYERS, digest.replace(":", "-"));
}

/**
 * The root of the layer `digest` when the store holds it. Marks it as just
 * used, so a prune running beside the pull that asked leaves it alone.
 */
export async function heldLayer(storeDir: string, digest: string): Promise<string | undefined> {
  const dir = layerDir(storeDir, digest);
  try {
    const now = new Date();
    await utimes(dir, now, now);
    return join(dir, ROOT);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** An empty tree for unpacking layer `digest`, in the store's tmp (so keeping it is a rename). */
export async function stageLayer(
  storeDir: string,
  tmpDir: string,
  digest: string,
): Promise<LayerStaging> {
  const dir = layerDir(storeDir, digest);
  await ensureDirs(storeDir, [join(storeDir, LAYERS), tmpDir]);
  const staging = join(tmpDir, `layer-${randomBytes(6).toString("hex")}`);
  const root = join(staging, ROOT);
  await mkdir(root, { recursive: true });
  const discard = () => rm(staging, { recursive: true, force: true });
  return {
    root,
    discard,
    async commit() {
      try {
        await checkTree(root, `layer ${digest}`);
        await normaliseTree(staging);
        await rename(staging, dir);
      } catch (error) {
        await discard();
        // Another pull kept the same layer first: its copy is the same bytes.
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
      }
      return join(dir, ROOT);
    },
  };
}

/**
 * Removes the layers no image in `inUse` (digests) is made of, unless used
 * within `graceMs` (a pull may be making an image of them right now).
 * Resolves with how many went.
 */
export async function pruneLayers(
  storeDir: string,
  inUse: ReadonlySet<string>,
  graceMs: number,
): Promise<number> {
  const dir = join(storeDir, LAYERS);
  const now = Date.now();
  let removed = 0;
  for (const name of await readdirOrEmpty(dir)) {
    if (inUse.has(name.replace("-", ":"))) continue;
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (!info || now - info.mtimeMs <= graceMs) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
