// Pulling an image from its registry into this host's image store: the
// manifest for the host's platform; each layer the store does not hold yet
// downloaded, checked against its digest and kept once in the store's layers;
// the image made of its layers in a staging tree of the store, which the
// store's commit checks like any image (only files and folders, disks by
// content, nothing outside, within the size bound).
import { mkdtemp, rm } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type ImageInfo,
  type ImageStore,
  isArchiveError,
  notFilesAndFolders,
} from "@headroom/images";
import {
  type ClientOptions,
  type Descriptor,
  type Manifest,
  RegistryClient,
  RegistryError,
} from "./client.ts";
import { applyLayer, LAYER_TYPES, unpackLayer } from "./layers.ts";
import { InvalidRegistryRefError, registryRefOf } from "./reference.ts";

/** A registry image with more layers than this is not a VM image. */
const MAX_LAYERS = 64;

export interface PullOptions extends ClientOptions {
  /** Largest image pulled, in layer bytes and in unpacked bytes. */
  maxBytes: number;
  /** Hears how many of the missing layers' bytes arrived. */
  onProgress?: (done: number, total: number) => void;
  /** The manifest digest this host holds: when the registry's is the same, nothing is pulled. */
  held?: string;
}

export interface Pulled {
  image: ImageInfo;
  /** Bytes of the layers downloaded; those the store held already are not. */
  downloadedBytes: number;
  /** Layers the store held already (shared with another image, or pulled before). */
  reusedLayers: number;
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
): Promise<Pulled | "unchanged"> {
  const parsed = registryRefOf(ref);
  if (!parsed) throw new InvalidRegistryRefError(`image ${ref} names no registry`);
  const client = new RegistryClient(parsed.registry, parsed.repository, options);
  const { manifest, digest } = await client.manifest(parsed.digest ?? parsed.tag ?? "latest");
  if (digest === options.held) return "unchanged";
  checkLayers(ref, manifest, options.maxBytes);
  const held = await Promise.all(manifest.layers.map((layer) => store.layer(layer.digest)));
  const missing = manifest.layers.filter((_, i) => held[i] === undefined);
  const total = missing.reduce((sum, layer) => sum + layer.size, 0);
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    options.onProgress?.(done, total);
  };
  const staging = await store.stage();
  try {
    for (const [i, layer] of manifest.layers.entries()) {
      const root =
        held[i] ?? (await keepLayer(store, client, ref, layer, options.maxBytes, onBytes));
      await applyLayer(root, staging.root);
    }
    const image = await staging.commit(ref, {
      digest,
      layers: manifest.layers.map((layer) => layer.digest),
      maxBytes: options.maxBytes,
    });
    return { image, downloadedBytes: total, reusedLayers: manifest.layers.length - missing.length };
  } catch (error) {
    await staging.discard();
    throw error;
  }
}

/** Downloads one layer, checks it and keeps it in the store's layers; resolves with its root. */
async function keepLayer(
  store: ImageStore,
  client: RegistryClient,
  ref: string,
  layer: Descriptor,
  maxBytes: number,
  onBytes: (n: number) => void,
): Promise<string> {
  const staging = await store.stageLayer(layer.digest);
  // Beside the layer's staging tree, never in it.
  const download = await mkdtemp(`${dirname(staging.root)}.blob-`);
  try {
    const file = `${download}/blob`;
    await client.blobTo(layer, file, onBytes);
    const unpacked = await unpackLayer(file, staging.root, maxBytes).catch((error: unknown) => {
      if (isArchiveError(error))
        throw new RegistryError(
          `layer ${layer.digest} of ${ref} is not a valid archive: ${(error as Error).message}`,
        );
      throw error;
    });
    if (unpacked.refused.length > 0) throw notFilesAndFolders(ref, unpacked.refused);
    return await staging.commit();
  } catch (error) {
    await staging.discard();
    throw error;
  } finally {
    await rm(download, { recursive: true, force: true });
  }
}

/** Refuses an image whose layers headroom does not unpack, or that is larger than `maxBytes`. */
function checkLayers(ref: string, manifest: Manifest, maxBytes: number): void {
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
}
