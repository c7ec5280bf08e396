// Pulling an image from its registry into this host's image store: the
// manifest for the host's platform, each layer downloaded and checked against
// its digest, unpacked in order into a staging tree of the store, which the
// store's commit checks like any image (only files and folders, disks by
// content, nothing outside).
import { mkdir, rm } from "node:fs/promises";
import {
  type ImageInfo,
  type ImageStore,
  isArchiveError,
  notFilesAndFolders,
} from "@headroom/images";
import { type ClientOptions, type Manifest, RegistryClient, RegistryError } from "./client.ts";
import { LAYER_TYPES, type Unpacked, unpackLayer } from "./layers.ts";
import { InvalidRegistryRefError, registryRefOf } from "./reference.ts";

/** A registry image with more layers than this is not a VM image. */
const MAX_LAYERS = 64;

export interface PullOptions extends ClientOptions {
  /** Largest image pulled, in layer bytes and in unpacked bytes. */
  maxBytes: number;
  /** Hears how many of the layers' bytes arrived. */
  onProgress?: (done: number, total: number) => void;
  /** The manifest digest this host holds: when the registry's is the same, nothing is pulled. */
  held?: string;
}

/**
 * Pulls `ref` into `store`; resolves with the image, or "unchanged" when the
 * registry still has the manifest `options.held`. Throws RegistryError with
 * the registry's reason, or the image store's ImageStoreError for an image
 * it refuses, in words a user can act on.
 */
export async function pullImage(
  store: ImageStore,
  ref: string,
  options: PullOptions,
): Promise<ImageInfo | "unchanged"> {
  const parsed = registryRefOf(ref);
  if (!parsed) throw new InvalidRegistryRefError(`image ${ref} names no registry`);
  const client = new RegistryClient(parsed.registry, parsed.repository, options);
  const { manifest, digest } = await client.manifest(parsed.digest ?? parsed.tag ?? "latest");
  if (digest === options.held) return "unchanged";
  const total = layerBytes(ref, manifest, options.maxBytes);
  const staging = await store.stage();
  const blobs = `${staging.root}.layers`;
  try {
    await mkdir(blobs, { mode: 0o700 });
    let done = 0;
    const seen: Unpacked = { bytes: 0, refused: [] };
    for (const [i, layer] of manifest.layers.entries()) {
      const file = `${blobs}/${i}`;
      await client.blobTo(layer, file, (n) => {
        done += n;
        options.onProgress?.(done, total);
      });
      await unpackLayer(file, staging.root, seen, options.maxBytes).catch((error: unknown) => {
        if (isArchiveError(error))
          throw new RegistryError(
            `layer ${layer.digest} of ${ref} is not a valid archive: ${(error as Error).message}`,
          );
        throw error;
      });
      await rm(file);
    }
    if (seen.refused.length > 0) throw notFilesAndFolders(ref, seen.refused);
    return await staging.commit(ref, { digest });
  } catch (error) {
    await staging.discard();
    throw error;
  } finally {
    await rm(blobs, { recursive: true, force: true });
  }
}

/** The bytes of the image's layers, once they are layers headroom unpacks, within `maxBytes`. */
function layerBytes(ref: string, manifest: Manifest, maxBytes: number): number {
  if (manifest.layers.length === 0 || manifest.layers.length > MAX_LAYERS)
    throw new RegistryError(`image ${ref} has ${manifest.layers.length} layers`);
  const odd = manifest.layers.find((layer) => !LAYER_TYPES.has(layer.mediaType));
  if (odd)
    throw new RegistryError(
      `image ${ref} has a layer of type ${odd.mediaType}; headroom unpacks tar and gzip'd tar layers`,
    );
  const total = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
  if (total > maxBytes)
    throw new RegistryError(
      `image ${ref} is ${total} bytes, over this host's limit of ${maxBytes}`,
    );
  return total;
}
