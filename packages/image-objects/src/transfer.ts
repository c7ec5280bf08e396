import { basename, dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { errorText, type ObjectInfo, type ObjectStore } from "@headroom/bus";
import {
  checkImageSource,
  IMAGE_ENTRY_TYPES,
  type ImageInfo,
  type ImageStore,
  isArchiveError,
  notFilesAndFolders,
  validateImageRef,
} from "@headroom/images";
import { setSha256Backend } from "@nats-io/obj";
import { create as packTar, extract as unpackTar } from "tar";
import { ImageFetchError } from "./errors.ts";

// The object store checks every chunk's SHA-256 both ways; its default is a
// browser-safe hash in JavaScript, four times slower than Node's own
// (bench/image-transfer). Process-wide, and headroom runs on Node only.
setSha256Backend("native");

/** Bytes per object-store chunk (nats-server caps it at its max_payload). */
const CHUNK_BYTES = 1024 * 1024;

/** Told of bytes moved so far, out of about `total`. */
export type Progress = (done: number, total: number) => void;

export interface Uploaded {
  ref: string;
  /** "SHA-256=…", as the object store computed it. */
  digest: string;
  files: number;
  /** Sum of the files' sizes; the object (a tar) is a little larger. */
  sizeBytes: number;
  objectBytes: number;
}

/** Uploads a directory tree (or one file, placed at the image root) as the image `ref`. */
export async function uploadImage(
  objects: ObjectStore,
  ref: string,
  sourcePath: string,
  onProgress?: Progress,
): Promise<Uploaded> {
  validateImageRef(ref);
  const { source, isDirectory, files, sizeBytes } = await checkImageSource(sourcePath);
  const packed = isDirectory
    ? packTar({ cwd: source, portable: true }, ["."])
    : packTar({ cwd: dirname(source), portable: true }, [basename(source)]);
  const archive = Readable.from(packed as unknown as AsyncIterable<Buffer>);
  const counted = archive.pipe(countBytes((done) => onProgress?.(done, sizeBytes)));
  // pipe() passes no error on: a file that changes while it is read must fail the upload.
  archive.on("error", (error) => counted.destroy(error));
  const info = await objects.put(
    {
      name: ref,
      description: `headroom image ${ref}`,
      metadata: { files: String(files), "size-bytes": String(sizeBytes) },
      options: { max_chunk_size: CHUNK_BYTES },
    },
    Readable.toWeb(counted) as unknown as ReadableStream<Uint8Array>,
  );
  return { ref, digest: info.digest, files, sizeBytes, objectBytes: info.size };
}

export interface FetchOptions {
  /** Refuse an object larger than this. */
  maxBytes: number;
  onProgress?: Progress;
  /**
   * Give up when no chunk came for this long (default 30 s): an upload that
   * replaces the image, or its deletion, purges the chunks being read.
   */
  idleMs?: number;
  /** Stops the fetch (the launcher stopping). */
  signal?: AbortSignal;
}

const DEFAULT_IDLE_MS = 30_000;

/**
 * Fetches the image `ref` from the object store into `store`, replacing what
 * the store held under it; null when the object store has no such image.
 * Only folders and regular files are taken; anything else in the archive
 * (links, devices) refuses the whole image, as does a disk that names a
 * file outside itself. Reads at most the object's recorded size.
 */
export async function fetchImage(
  objects: ObjectStore,
  store: ImageStore,
  ref: string,
  options: FetchOptions,
): Promise<ImageInfo | null> {
  validateImageRef(ref);
  const result = await objects.get(ref);
  if (result === null) return null;
  // The version being read: its size bounds the read, its digest is recorded.
  const { info } = result;
  if (info.size > options.maxBytes) {
    await result.data.cancel();
    throw new ImageFetchError(
      `image ${ref} is ${info.size} bytes in headroom's image store, over this host's limit of ${options.maxBytes}`,
    );
  }
  const staging = await store.stage();
  const idle = idleWatch(options.idleMs ?? DEFAULT_IDLE_MS);
  try {
    const refused: string[] = [];
    const unpack = unpackTar({
      cwd: staging.root,
      strict: true,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = "type" in entry ? entry.type : "File";
        if (IMAGE_ENTRY_TYPES.has(type)) return true;
        refused.push(`${path} (${type})`);
        return false;
      },
    });
    const signals = options.signal ? [idle.signal, options.signal] : [idle.signal];
    await pipeline(
      Readable.fromWeb(result.data as unknown as WebReadableStream<Uint8Array>),
      countBytes((done) => {
        idle.touch();
        if (done > info.size)
          throw new ImageFetchError(`image ${ref} sent more than its ${info.size} bytes`);
        options.onProgress?.(done, info.size);
      }),
      unpack as unknown as NodeJS.WritableStream,
      { signal: AbortSignal.any(signals) },
    ).catch((error: unknown) => {
      throw fetchFailure(ref, error, idle.signal.aborted);
    });
    const failure = await result.error;
    if (failure) throw new ImageFetchError(`image ${ref}: ${failure.message}`);
    if (refused.length > 0) throw notFilesAndFolders(ref, refused);
    return await staging.commit(ref, { digest: info.digest });
  } catch (error) {
    await staging.discard();
    throw error;
  } finally {
    idle.stop();
  }
}

/** An abort signal that fires once `touch()` was not called for `idleMs`. */
function idleWatch(idleMs: number) {
  const controller = new AbortController();
  let last = Date.now();
  const timer = setInterval(
    () => {
      if (Date.now() - last > idleMs) controller.abort();
    },
    Math.min(1000, idleMs),
  );
  return {
    signal: controller.signal,
    touch: () => {
      last = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}

/** What a failed read of an image means: the image's fault (fails the VMI), or passing trouble. */
function fetchFailure(ref: string, error: unknown, stalled: boolean): unknown {
  if (stalled)
    return new ImageFetchError(
      `image ${ref} stopped arriving; it was replaced or deleted meanwhile? apply again to retry`,
    );
  // The object is not an archive headroom made.
  if (isArchiveError(error))
    return new ImageFetchError(`image ${ref} is not a valid archive: ${errorText(error)}`);
  return error;
}

/** The image store's images that are not deleted, sorted by reference. */
export async function listImageObjects(objects: ObjectStore): Promise<ObjectInfo[]> {
  const listed = await objects.list();
  return listed
    .filter((info) => !info.deleted)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A pass-through that reports the bytes seen so far; a throw from `seen` fails the stream. */
function countBytes(seen: (done: number) => void): Transform {
  let done = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      done += chunk.length;
      try {
        seen(done);
        callback(null, chunk);
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
