// Images in this host's image store (the launcher boots VMIs from them).
import { type ImageInfo, ImageStoreError, openImageStore } from "@headroom/images";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import {
  formatAge,
  formatBytes,
  formatObjects,
  formatTable,
  type OutputFormat,
} from "../output.ts";

/** The store's errors as CLI errors: a bad reference or source is the user's input (2). */
function asCliError(error: unknown): unknown {
  if (!(error instanceof ImageStoreError)) return error;
  const usage = error.code === "INVALID_IMAGE_REF" || error.code === "IMAGE_SOURCE_INVALID";
  return new CliError(error.message, usage ? EXIT_USAGE : EXIT_INVALID);
}

async function inStore<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw asCliError(error);
  }
}

/** An image as -o json|yaml prints it. */
function imageObject(image: ImageInfo) {
  return {
    ref: image.ref,
    path: image.path,
    files: image.files,
    sizeBytes: image.sizeBytes,
    addedAt: image.addedAt,
  };
}

export async function addImage(
  storeDir: string,
  ref: string,
  path: string,
  write: (text: string) => void,
): Promise<number> {
  const image = await inStore(() => openImageStore(storeDir).add(ref, path));
  const files = image.files === 1 ? "1 file" : `${image.files} files`;
  write(`image/${image.ref} added (${files}, ${formatBytes(image.sizeBytes)})\n`);
  return EXIT_OK;
}

export interface GetImagesOptions {
  name?: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function getImages(storeDir: string, options: GetImagesOptions): Promise<number> {
  const now = options.now ?? Date.now;
  let images = await inStore(() => openImageStore(storeDir).list());
  if (options.name !== undefined) {
    images = images.filter((image) => image.ref === options.name);
    if (images.length === 0) throw new CliError(`image/${options.name} not found`, EXIT_INVALID);
  }
  if (options.output === "json" || options.output === "yaml") {
    options.write(
      formatObjects(options.output, images.map(imageObject), options.name !== undefined),
    );
    return EXIT_OK;
  }
  if (images.length === 0) {
    process.stderr.write(`No images found in ${storeDir}.\n`);
    return EXIT_OK;
  }
  const wide = options.output === "wide";
  const headers = ["REF", "FILES", "SIZE", "AGE", ...(wide ? ["PATH"] : [])];
  const rows = images.map((image) => [
    image.ref,
    String(image.files),
    formatBytes(image.sizeBytes),
    formatAge(now() - Date.parse(image.addedAt)),
    ...(wide ? [image.path] : []),
  ]);
  options.write(formatTable(headers, rows));
  return EXIT_OK;
}

export async function deleteImage(
  storeDir: string,
  ref: string,
  write: (text: string) => void,
): Promise<number> {
  const removed = await inStore(() => openImageStore(storeDir).remove(ref));
  if (!removed) throw new CliError(`image/${ref} not found`, EXIT_INVALID);
  write(`image/${ref} deleted\n`);
  return EXIT_OK;
}
