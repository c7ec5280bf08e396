// Images in headroom's image store (a JetStream object store), and which
// hosts hold them: uploaded from here, fetched by a host's launcher when a
// VMI there needs one, deleted through the validator (it knows the VMIs).
import { API_SUBJECTS, OBJECT_STORES } from "@headroom/bus/client";
import { ImageStoreError } from "@headroom/images";
import {
  DeleteImageReply,
  DeleteImageRequest,
  type HostRecord,
  PruneImagesReply,
  PruneImagesRequest,
} from "@headroom/proto";
import type { ObjectInfo, ObjectStore } from "@nats-io/obj";
import type { HeadroomClient } from "../client.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE } from "../exit-codes.ts";
import {
  formatAge,
  formatBytes,
  formatObjects,
  formatTable,
  type OutputFormat,
} from "../output.ts";
import { progressBar } from "../progress-bar.ts";
import { hostRecords } from "./nodes.ts";

/** The store's errors as CLI errors: a bad reference or source is the user's input (2). */
function asCliError(error: unknown): unknown {
  if (!(error instanceof ImageStoreError)) return error;
  const usage = error.code === "INVALID_IMAGE_REF" || error.code === "IMAGE_SOURCE_INVALID";
  return new CliError(error.message, usage ? EXIT_USAGE : EXIT_INVALID);
}

async function openObjects(client: HeadroomClient): Promise<ObjectStore> {
  const { Objm } = await import("@nats-io/obj");
  try {
    return await new Objm(client.nc).open(OBJECT_STORES.images);
  } catch (error) {
    throw new CliError(
      `cannot open headroom's image store ${OBJECT_STORES.images} at ${client.url} ` +
        `(${(error as Error).message}): is headroom running? start it with: npm start`,
      EXIT_UNREACHABLE,
    );
  }
}

export interface AddImageOptions {
  write: (text: string) => void;
  /** Draws a progress bar on stderr (a terminal); default: when stderr is one. */
  progress?: boolean;
}

export async function addImage(
  client: HeadroomClient,
  ref: string,
  path: string,
  options: AddImageOptions,
): Promise<number> {
  const [objects, { uploadImage }, { namesRegistry }] = await Promise.all([
    openObjects(client),
    import("@headroom/image-objects"),
    import("@headroom/registry"),
  ]);
  // Hosts pull such an image from its registry; an upload under its name would never be read.
  if (namesRegistry(ref)) {
    throw new CliError(
      `image ${ref} names a registry (${ref.slice(0, ref.indexOf("/"))}): hosts pull it from there; ` +
        "give an upload a name without a registry host, such as lab/guest:1",
      EXIT_USAGE,
    );
  }
  // Bytes sent out of the tree's size (the archive adds a little).
  const bar =
    (options.progress ?? process.stderr.isTTY) ? await progressBar(`uploading ${ref}`) : undefined;
  try {
    const uploaded = await uploadImage(objects, ref, path, bar?.update);
    bar?.stop();
    const files = uploaded.files === 1 ? "1 file" : `${uploaded.files} files`;
    options.write(
      `image/${ref} added to headroom's image store (${files}, ${formatBytes(uploaded.sizeBytes)})\n`,
    );
    return EXIT_OK;
  } catch (error) {
    bar?.stop();
    throw asCliError(error);
  }
}

/**
 * Publishes an image of headroom's image store to a registry: fetched into a
 * scratch store here (checked as a host checks it), then pushed.
 */
export async function pushImageTo(
  client: HeadroomClient,
  source: string,
  destination: string,
  options: { write: (text: string) => void; insecure: string[] },
): Promise<number> {
  const [objects, { fetchImage }, registry, images] = await Promise.all([
    openObjects(client),
    import("@headroom/image-objects"),
    import("@headroom/registry"),
    import("@headroom/images"),
  ]);
  if (!registry.namesRegistry(destination))
    throw new CliError(
      `${destination} names no registry: give host[:port]/repository:tag, e.g. 127.0.0.1:5000/lab/guest:1`,
      EXIT_USAGE,
    );
  const { mkdtemp, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const work = await mkdtemp(join(tmpdir(), "headroom-push-"));
  try {
    const storeDir = join(work, "store");
    // The image store bounds what it holds; what it sends is what it holds.
    const fetched = await fetchImage(objects, images.openImageStore(storeDir), source, {
      maxBytes: Number.MAX_SAFE_INTEGER,
    }).catch((error: unknown) => {
      throw asCliError(error);
    });
    if (!fetched)
      throw new CliError(`image/${source} not found in headroom's image store`, EXIT_INVALID);
    const pushed = await registry
      .pushImage(images.imageRootPath(storeDir, source), destination, {
        workDir: work,
        insecure: options.insecure,
      })
      .catch((error: unknown) => {
        if (error instanceof registry.RegistryError)
          throw new CliError(error.message, EXIT_INVALID);
        if (error instanceof registry.InvalidRegistryRefError)
          throw new CliError(error.message, EXIT_USAGE);
        throw error;
      });
    options.write(
      `image/${source} pushed to ${destination} (${pushed.digest}; ${pushed.sent} blobs sent, ${pushed.skipped} there already)\n`,
    );
    return EXIT_OK;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** An image as -o json|yaml prints it. */
interface ImageView {
  ref: string;
  /**
   * False for an image hosts hold that is not in the image store: pulled from
   * its registry, placed on the host directly (no digest), or deleted from
   * the store since.
   */
  inStore: boolean;
  /** Named with a registry host: hosts pull it from there. */
  fromRegistry: boolean;
  digest: string;
  files?: number;
  sizeBytes: number;
  addedAt?: string;
  /** Hosts holding this very upload (for an image not in the store: holding it at all). */
  hosts: string[];
}

function imageViews(
  objects: ObjectInfo[],
  hosts: HostRecord[],
  namesRegistry: (ref: string) => boolean,
): ImageView[] {
  const views = new Map<string, ImageView>();
  for (const object of objects) {
    views.set(object.name, {
      ref: object.name,
      inStore: true,
      fromRegistry: false,
      digest: object.digest,
      files: Number(object.metadata?.files ?? 0),
      sizeBytes: Number(object.metadata?.["size-bytes"] ?? object.size),
      addedAt: object.mtime,
      hosts: [],
    });
  }
  for (const host of hosts) {
    for (const held of host.images) {
      const ref = held.ref ?? "";
      const known = views.get(ref);
      if (known?.inStore) {
        if (held.digest === known.digest) known.hosts.push(host.node);
        continue;
      }
      const local: ImageView = known ?? {
        ref,
        inStore: false,
        fromRegistry: namesRegistry(ref),
        digest: held.digest ?? "",
        sizeBytes: Number(held.sizeBytes),
        hosts: [],
      };
      local.hosts.push(host.node);
      views.set(ref, local);
    }
  }
  return [...views.values()].sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
}

export interface GetImagesOptions {
  name?: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function getImages(
  client: HeadroomClient,
  options: GetImagesOptions,
): Promise<number> {
  const now = options.now ?? Date.now;
  const objects = await openObjects(client);
  const [{ listImageObjects }, { namesRegistry }, hosts] = await Promise.all([
    import("@headroom/image-objects"),
    import("@headroom/registry"),
    hostRecords(client),
  ]);
  let images = imageViews(await listImageObjects(objects), hosts, namesRegistry);
  if (options.name !== undefined) {
    images = images.filter((image) => image.ref === options.name);
    if (images.length === 0) throw new CliError(`image/${options.name} not found`, EXIT_INVALID);
  }
  if (options.output === "json" || options.output === "yaml") {
    options.write(formatObjects(options.output, images, options.name !== undefined));
    return EXIT_OK;
  }
  if (images.length === 0) {
    process.stderr.write("No images found.\n");
    return EXIT_OK;
  }
  const wide = options.output === "wide";
  const headers = ["REF", "SIZE", "AGE", "HOSTS", ...(wide ? ["FILES", "DIGEST"] : [])];
  const rows = images.map((image) => [
    image.ref,
    formatBytes(image.sizeBytes),
    image.addedAt ? formatAge(now() - Date.parse(image.addedAt)) : "-",
    hostsCell(image),
    ...(wide ? [String(image.files ?? "-"), image.digest || "-"] : []),
  ]);
  options.write(formatTable(headers, rows));
  return EXIT_OK;
}

function hostsCell(image: ImageView): string {
  const hosts = image.hosts.length > 0 ? image.hosts.join(",") : "<none>";
  if (image.inStore) return hosts;
  if (image.fromRegistry) return `${hosts} (pulled from its registry)`;
  // A copy fetched from the store carries its digest; VMIs no longer get it.
  return `${hosts} (${image.digest ? "deleted from the image store" : "placed on the host"})`;
}

export async function deleteImage(
  client: HeadroomClient,
  ref: string,
  write: (text: string) => void,
): Promise<number> {
  const reply = await client.call(
    API_SUBJECTS.deleteImage,
    DeleteImageRequest,
    { ref },
    DeleteImageReply,
  );
  if (!reply.deleted) throw new CliError(`image/${ref} not found`, EXIT_INVALID);
  write(`image/${ref} deleted\n`);
  return EXIT_OK;
}

/**
 * Asks the host's launcher to remove what no VMI there uses from its store:
 * images it can have again (from a registry, or headroom's image store) and
 * the layers no image is made of.
 */
export async function pruneImages(
  client: HeadroomClient,
  options: { dryRun: boolean; write: (text: string) => void; warn: (text: string) => void },
): Promise<number> {
  const reply = await client.call(
    API_SUBJECTS.pruneImages,
    PruneImagesRequest,
    { dryRun: options.dryRun },
    PruneImagesReply,
  );
  const host = `host ${reply.node}`;
  if (reply.keptBecause) options.warn(`Warning: ${host}: ${reply.keptBecause}\n`);
  const verb = options.dryRun ? "would be removed" : "removed";
  for (const image of reply.removed)
    options.write(
      `${host}: image ${image.ref} ${verb} (${formatBytes(Number(image.sizeBytes))})\n`,
    );
  if (reply.otherRemoved > 0)
    options.write(`${host}: ${reply.otherRemoved} unused layers and leftovers removed\n`);
  if (reply.removed.length === 0 && reply.otherRemoved === 0 && !reply.keptBecause)
    options.write(`${host}: nothing to remove\n`);
  return EXIT_OK;
}
