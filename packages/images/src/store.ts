import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { basename, join, sep } from "node:path";
import { promisify } from "node:util";
import {
  createQcow2,
  type DiskFormat,
  DiskFormatError,
  type DiskInfo,
  inspectDisk,
  requireSelfContained,
} from "@headroom/disk-format";
import {
  ImageFileNotFoundError,
  ImageNotFoundError,
  ImagePathError,
  ImageSourceError,
  OverlayError,
} from "./errors.ts";
import { imageKey, validateImageRef } from "./image_ref.ts";
import { heldLayer, type LayerStaging, pruneLayers, stageLayer } from "./layers.ts";
import {
  checkTree,
  ensureDirs,
  isMissing,
  normaliseTree,
  readdirOrEmpty,
  type TreeSize,
} from "./tree.ts";

const run = promisify(execFile);

/** Reference under which infra/tiny-guest/build.sh stores the test guest. */
export const TINY_GUEST_REF = "headroom/tiny-guest";

/** One image in the store. `path` is the image's root directory on the host. */
export interface ImageInfo {
  ref: string;
  path: string;
  /** Regular files in the image. */
  files: number;
  /** Sum of the files' sizes in bytes (apparent size; sparse disks may use less). */
  sizeBytes: number;
  /** When the image was added, ISO 8601. */
  addedAt: string;
  /**
   * Digest of what it came from: the object in headroom's image store
   * ("SHA-256=…") or the registry's manifest ("sha256:…"); absent for an
   * image placed on the host directly.
   */
  digest?: string;
  /** The registry layers (digests) it is made of, held once in the store's layers. */
  layers?: string[];
}

/** `root` is the same directory as `path`; it names what `/` of the image is on the host. */
export interface ResolvedImage extends ImageInfo {
  root: string;
}

export interface Overlay {
  /** The new qcow2 file. */
  path: string;
  /** The store's disk file it is backed by (never written). */
  backingPath: string;
  backingFormat: string;
}

export interface AddOptions {
  /** Recorded with the image: the digest of the object it came from. */
  digest?: string;
  /** Recorded with the image: the layers its files are links to (kept while it is). */
  layers?: string[];
  /** Refuses a tree whose files add up to more bytes than this. */
  maxBytes?: number;
}

/**
 * An image being filled in place (by an extraction, say): files go under
 * `root`, then commit() checks them and makes them the image under `ref`,
 * atomically, or discard() drops them.
 */
export interface Staging {
  readonly root: string;
  commit(ref: string, options?: AddOptions): Promise<ImageInfo>;
  discard(): Promise<void>;
}

export interface PruneOptions {
  /** Layers used more recently than this are kept (default a minute). */
  layerGraceMs?: number;
}

export interface CreateOverlayOptions {
  /** Overwrite an existing file at destPath (default: refuse). */
  replace?: boolean;
}

export interface ImageStore {
  /** The store's directory. */
  readonly dir: string;
  /**
   * Copies a directory tree (or a single file, placed at the image root) into
   * the store under `ref`, replacing any image stored under it. Readers see the
   * old image or the new one, never a half-copied one.
   */
  add(ref: string, sourcePath: string, options?: AddOptions): Promise<ImageInfo>;
  /** An empty staging tree inside the store (same filesystem: commit is a rename). */
  stage(): Promise<Staging>;
  /** Every stored image, sorted by reference. */
  list(): Promise<ImageInfo[]>;
  /** Throws ImageNotFoundError when `ref` is not stored. */
  resolve(ref: string): Promise<ResolvedImage>;
  /** Host path of a regular file inside the image, e.g. "/boot/vmlinuz". */
  resolveFile(ref: string, pathInImage: string): Promise<string>;
  /** Host path of the image's disk: the first file under /disk/ (KubeVirt containerDisk layout). */
  diskOf(ref: string): Promise<string>;
  /**
   * Creates a qcow2 file at destPath backed by the image's disk, so a VM can
   * write without touching the disk that other VMs share.
   */
  createOverlay(ref: string, destPath: string, options?: CreateOverlayOptions): Promise<Overlay>;
  /** Removes the image; false when it was not stored. */
  remove(ref: string): Promise<boolean>;
  /** The root of registry layer `digest` when the store holds it, else undefined. */
  layer(digest: string): Promise<string | undefined>;
  /** An empty tree for unpacking registry layer `digest`; commit() keeps it once. */
  stageLayer(digest: string): Promise<LayerStaging>;
  /**
   * Deletes leftovers of interrupted or racing adds, and layers no image is
   * made of (unless used in the last minute, or `layerGraceMs`: a pull may be
   * making an image of them); returns how many entries went.
   */
  prune(options?: PruneOptions): Promise<number>;
}

/** `$HEADROOM_STATE_DIR/images`, with the state directory defaulting to /var/lib/headroom. */
export function defaultImageStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HEADROOM_STATE_DIR || "/var/lib/headroom", "images");
}

interface Manifest {
  schema: 1;
  ref: string;
  addedAt: string;
  files: number;
  sizeBytes: number;
  digest?: string;
  layers?: string[];
}

type CommitAs = (ref: string, options: AddOptions, shownAs: string) => Promise<ImageInfo>;

const MANIFEST = "image.json";
const ROOT = "root";
/** Staging directories older than this are leftovers of a crashed add. */
const STALE_STAGING_MS = 60 * 60 * 1000;
/** An object or layer nobody uses yet may be one an add is about to link to. */
const RACING_ADD_MS = 60_000;

/**
 * Layout (every directory 0755, every file 0644, so QEMU running as its own
 * user can read kernels and backing disks):
 *
 *   <dir>/refs/<key>            symlink to ../objects/<id>; replaced atomically by rename(2)
 *   <dir>/objects/<id>/image.json
 *   <dir>/objects/<id>/root/... the image's files
 *   <dir>/layers/<digest>/root/ a registry layer's files, once; images made of it link to them
 *   <dir>/tmp/                  staging for adds in progress
 *
 * Paths handed out point into objects/<id>, so they stay the same file for
 * as long as the image is not replaced or removed: a qcow2 overlay's backing
 * path can never silently switch to different content.
 */
export function openImageStore(dir: string = defaultImageStoreDir()): ImageStore {
  const refsDir = join(dir, "refs");
  const objectsDir = join(dir, "objects");
  const tmpDir = join(dir, "tmp");

  async function objectIdOf(ref: string): Promise<string | undefined> {
    try {
      const target = await readlink(join(refsDir, imageKey(ref)));
      return basename(target);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async function readManifest(id: string): Promise<Manifest | undefined> {
    try {
      return JSON.parse(await readFile(join(objectsDir, id, MANIFEST), "utf8")) as Manifest;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  function infoOf(id: string, manifest: Manifest): ImageInfo {
    const { ref, files, sizeBytes, addedAt, digest, layers } = manifest;
    return {
      ref,
      path: join(objectsDir, id, ROOT),
      files,
      sizeBytes,
      addedAt,
      ...(digest === undefined ? {} : { digest }),
      ...(layers === undefined ? {} : { layers }),
    };
  }

  async function resolve(ref: string): Promise<ResolvedImage> {
    validateImageRef(ref);
    let id = await objectIdOf(ref);
    let manifest = id === undefined ? undefined : await readManifest(id);
    // The object can vanish between reading the link and reading the manifest
    // when a concurrent add replaces the image; then the link has moved on.
    for (let attempt = 0; id !== undefined && manifest === undefined && attempt < 5; attempt++) {
      const again = await objectIdOf(ref);
      if (again === id) break;
      id = again;
      manifest = id === undefined ? undefined : await readManifest(id);
    }
    // A manifest for another reference can only come from a truncated-key collision.
    if (id === undefined || manifest === undefined || manifest.ref !== ref) {
      throw new ImageNotFoundError(
        ref,
        dir,
        ref === TINY_GUEST_REF ? "or build it with: bash infra/tiny-guest/build.sh" : undefined,
      );
    }
    const info = infoOf(id, manifest);
    return { ...info, root: info.path };
  }

  async function resolveFile(ref: string, pathInImage: string): Promise<string> {
    const segments = splitImagePath(ref, pathInImage);
    const root = await realpath((await resolve(ref)).root);
    const shown = `/${segments.join("/")}`;
    let real: string;
    try {
      real = await realpath(join(root, ...segments));
    } catch (error) {
      if (isMissing(error)) throw new ImageFileNotFoundError(ref, shown, `not found in ${root}`);
      throw error;
    }
    if (!real.startsWith(root + sep)) {
      throw new ImagePathError(`path ${shown} in image ${ref} leads outside the image (${real})`);
    }
    const info = await stat(real);
    if (!info.isFile()) {
      throw new ImageFileNotFoundError(ref, shown, "it is a directory, not a regular file");
    }
    return real;
  }

  async function diskOf(ref: string): Promise<string> {
    const { root } = await resolve(ref);
    let entries: string[];
    try {
      entries = (await readdir(join(root, "disk"), { withFileTypes: true }))
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      if (!isMissing(error)) throw error;
      entries = [];
    }
    const first = entries[0];
    if (first === undefined) {
      throw new ImageFileNotFoundError(
        ref,
        "/disk/*",
        "a containerDisk image keeps its disk as a file under /disk/ (for example /disk/disk.qcow2)",
      );
    }
    return join(root, "disk", first);
  }

  async function createOverlay(
    ref: string,
    destPath: string,
    options: CreateOverlayOptions = {},
  ): Promise<Overlay> {
    const backingPath = await diskOf(ref);
    const { format: backingFormat, virtualSizeBytes } = await inspectSelfContained(backingPath);
    if (options.replace) await rm(destPath, { force: true });
    try {
      await createQcow2(destPath, {
        virtualSizeBytes,
        backing: { path: backingPath, format: backingFormat },
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        throw new OverlayError(
          `overlay ${destPath} already exists; remove it or pass replace to start from a clean disk`,
        );
      }
      throw new OverlayError(
        `could not create overlay ${destPath} on ${backingPath}: ${errorText(error)}`,
      );
    }
    return { path: destPath, backingPath, backingFormat };
  }

  async function stage(): Promise<Staging & { commitAs: CommitAs }> {
    await ensureDirs(dir, [refsDir, objectsDir, tmpDir]);
    const id = `${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
    const staging = join(tmpDir, id);
    const root = join(staging, ROOT);
    await mkdir(root, { recursive: true });
    const discard = () => rm(staging, { recursive: true, force: true });
    // `shownAs` names the source in messages: the path a user gave, or the reference.
    const commitAs = async (ref: string, options: AddOptions, shownAs: string) => {
      validateImageRef(ref);
      const link = join(tmpDir, `${id}.link`);
      try {
        // Whatever filled the tree is checked again here: only files and folders.
        const { files, sizeBytes } = await checkTree(root, shownAs);
        if (options.maxBytes !== undefined && sizeBytes > options.maxBytes)
          throw new ImageSourceError(
            `${shownAs} holds ${sizeBytes} bytes of files, over this host's limit of ${options.maxBytes}`,
          );
        await normaliseTree(root);
        await checkDisks(root, shownAs);
        const manifest: Manifest = {
          schema: 1,
          ref,
          addedAt: new Date().toISOString(),
          files,
          sizeBytes,
          ...(options.digest === undefined ? {} : { digest: options.digest }),
          ...(options.layers === undefined ? {} : { layers: options.layers }),
        };
        await writeFile(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, {
          mode: 0o644,
        });
        await chmod(join(staging, MANIFEST), 0o644);
        await chmod(staging, 0o755);
        await rename(staging, join(objectsDir, id));

        const previous = await objectIdOf(ref);
        await symlink(join("..", "objects", id), link);
        await rename(link, join(refsDir, imageKey(ref)));
        if (previous !== undefined && previous !== id) {
          await rm(join(objectsDir, previous), { recursive: true, force: true });
        }
        return infoOf(id, manifest);
      } catch (error) {
        await discard();
        await rm(link, { force: true });
        throw error;
      }
    };
    return {
      root,
      discard,
      commit: (ref, options = {}) => commitAs(ref, options, `image ${ref}`),
      commitAs,
    };
  }

  async function add(
    ref: string,
    sourcePath: string,
    options: AddOptions = {},
  ): Promise<ImageInfo> {
    validateImageRef(ref);
    const { source, isDirectory } = await checkImageSource(sourcePath);
    const staging = await stage();
    try {
      // cp keeps sparse disk images sparse and reflinks where the filesystem can.
      const copyArgs = ["-R", "--no-dereference", "--reflink=auto", "--sparse=always", "--"];
      if (isDirectory) {
        await run("cp", [...copyArgs, `${source}/.`, `${staging.root}/`]);
      } else {
        await run("cp", [...copyArgs, source, join(staging.root, basename(source))]);
      }
    } catch (error) {
      await staging.discard();
      throw new ImageSourceError(`could not copy ${sourcePath}: ${errorText(error)}`);
    }
    return staging.commitAs(ref, options, sourcePath);
  }

  async function list(): Promise<ImageInfo[]> {
    let keys: string[];
    try {
      keys = await readdir(refsDir);
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const images: ImageInfo[] = [];
    for (const key of keys) {
      let id: string;
      try {
        id = basename(await readlink(join(refsDir, key)));
      } catch (error) {
        if (isMissing(error)) continue; // removed while we looked
        throw error;
      }
      const manifest = await readManifest(id);
      if (manifest !== undefined) images.push(infoOf(id, manifest));
    }
    return images.sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  }

  async function remove(ref: string): Promise<boolean> {
    validateImageRef(ref);
    const id = await objectIdOf(ref);
    if (id === undefined) return false;
    try {
      await rm(join(refsDir, imageKey(ref)));
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
    await rm(join(objectsDir, id), { recursive: true, force: true });
    return true;
  }

  async function prune(options: PruneOptions = {}): Promise<number> {
    let removed = 0;
    const referenced = new Set<string>();
    for (const key of await readdirOrEmpty(refsDir)) {
      try {
        referenced.add(basename(await readlink(join(refsDir, key))));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    const now = Date.now();
    for (const name of await readdirOrEmpty(tmpDir)) {
      const info = await lstat(join(tmpDir, name)).catch(() => undefined);
      if (info && now - info.mtimeMs > STALE_STAGING_MS) {
        await rm(join(tmpDir, name), { recursive: true, force: true });
        removed++;
      }
    }
    // An object nobody references lost a race between two adds of one reference.
    // Objects are renamed into place just before their link, so give them a minute.
    const layersInUse = new Set<string>();
    for (const id of await readdirOrEmpty(objectsDir)) {
      const info = await lstat(join(objectsDir, id)).catch(() => undefined);
      if (!referenced.has(id) && info && now - info.mtimeMs > RACING_ADD_MS) {
        await rm(join(objectsDir, id), { recursive: true, force: true });
        removed++;
        continue;
      }
      for (const layer of (await readManifest(id))?.layers ?? []) layersInUse.add(layer);
    }
    const layerGrace = options.layerGraceMs ?? RACING_ADD_MS;
    return removed + (await pruneLayers(dir, layersInUse, layerGrace));
  }

  return {
    dir,
    add,
    stage: () => stage(),
    list,
    resolve,
    resolveFile,
    diskOf,
    createOverlay,
    remove,
    prune,
    layer: (digest) => heldLayer(dir, digest),
    stageLayer: (digest) => stageLayer(dir, tmpDir, digest),
  };
}

/**
 * The format of a disk image, read from its content (a ".img" is often
 * qcow2, and a ".raw" may hold a qcow2 header). Throws DiskFormatError for a
 * disk that names a file outside itself or is of another format.
 */
export async function detectDiskFormat(path: string): Promise<DiskFormat> {
  return (await inspectSelfContained(path)).format;
}

async function inspectSelfContained(path: string): Promise<DiskInfo> {
  const info = await inspectDisk(path);
  requireSelfContained(path, info);
  return info;
}

/**
 * The host path of a file inside the image stored under `ref`, through the
 * reference's link, so it is known before the image is on the host (a plan
 * names it; the launcher fetches the image before it defines the domain).
 * Reads nothing; refuses a path that could climb out of the image.
 */
export function imageFilePath(storeDir: string, ref: string, pathInImage: string): string {
  return join(imageRootPath(storeDir, ref), ...splitImagePath(ref, pathInImage));
}

/** `<dir>/refs/<key>/root`: where the files of the image stored under `ref` are reached. */
export function imageRootPath(storeDir: string, ref: string): string {
  validateImageRef(ref);
  return join(storeDir, "refs", imageKey(ref), ROOT);
}

/**
 * Checks that `sourcePath` can become an image: a regular file, or a tree of
 * folders and regular files only (a symlink could point anywhere); says how
 * many files it holds and how large they are.
 */
export async function checkImageSource(
  sourcePath: string,
): Promise<{ source: string; isDirectory: boolean } & TreeSize> {
  let source: string;
  try {
    source = await realpath(sourcePath);
  } catch (error) {
    if (isMissing(error)) throw new ImageSourceError(`source ${sourcePath} does not exist`);
    throw error;
  }
  const sourceInfo = await stat(source);
  if (!sourceInfo.isDirectory() && !sourceInfo.isFile()) {
    throw new ImageSourceError(`source ${sourcePath} is neither a directory nor a regular file`);
  }
  const size = sourceInfo.isDirectory()
    ? await checkTree(source, sourcePath)
    : { files: 1, sizeBytes: sourceInfo.size };
  return { source, isDirectory: sourceInfo.isDirectory(), ...size };
}

/** Refuses an image whose disks (the files under /disk/) read anything outside themselves. */
async function checkDisks(root: string, sourcePath: string): Promise<void> {
  for (const entry of await readdirOrEmpty(join(root, "disk"))) {
    const path = join(root, "disk", entry);
    if (!(await lstat(path)).isFile()) continue;
    try {
      await detectDiskFormat(path);
    } catch (error) {
      if (!(error instanceof DiskFormatError)) throw error;
      throw new ImageSourceError(`${sourcePath}: disk /disk/${entry} ${error.why}`);
    }
  }
}

/** Splits "/boot/vmlinuz" into ["boot", "vmlinuz"], refusing anything that could climb out. */
function splitImagePath(ref: string, pathInImage: string): string[] {
  if (typeof pathInImage !== "string" || pathInImage.includes("\0")) {
    throw new ImagePathError(`path ${JSON.stringify(pathInImage)} in image ${ref} is not a path`);
  }
  const segments = pathInImage.split("/").filter((part) => part !== "" && part !== ".");
  if (segments.includes("..")) {
    throw new ImagePathError(`path ${pathInImage} in image ${ref} must not contain ".."`);
  }
  if (segments.length === 0) {
    throw new ImagePathError(`path ${JSON.stringify(pathInImage)} in image ${ref} names no file`);
  }
  return segments;
}

function errorText(error: unknown): string {
  const stderr = (error as { stderr?: unknown })?.stderr;
  if (typeof stderr === "string" && stderr.trim()) return stderr.trim();
  return error instanceof Error ? error.message : String(error);
}
