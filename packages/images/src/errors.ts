/** Base of every error this package throws; `code` lets a CLI map errors to exit codes. */
export class ImageStoreError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The reference cannot name an image (empty, too long, control characters). */
export class InvalidImageRefError extends ImageStoreError {
  readonly ref: string;
  constructor(ref: string, reason: string) {
    super("INVALID_IMAGE_REF", `image reference ${JSON.stringify(ref)} is invalid: ${reason}`);
    this.ref = ref;
  }
}

export class ImageNotFoundError extends ImageStoreError {
  readonly ref: string;
  readonly storeDir: string;
  constructor(ref: string, storeDir: string, hint?: string) {
    super(
      "IMAGE_NOT_FOUND",
      `image ${ref} is not in the image store at ${storeDir}; add it with: headroom image add ${ref} PATH${hint ? ` (${hint})` : ""}`,
    );
    this.ref = ref;
    this.storeDir = storeDir;
  }
}

/** A path inside an image that does not exist or is not a regular file. */
export class ImageFileNotFoundError extends ImageStoreError {
  readonly ref: string;
  readonly pathInImage: string;
  constructor(ref: string, pathInImage: string, detail: string) {
    super("IMAGE_FILE_NOT_FOUND", `image ${ref} has no file ${pathInImage}: ${detail}`);
    this.ref = ref;
    this.pathInImage = pathInImage;
  }
}

/** A path that tries to leave the image (`..`, or a symlink pointing outside). */
export class ImagePathError extends ImageStoreError {
  constructor(message: string) {
    super("IMAGE_PATH_INVALID", message);
  }
}

/** The source given to `add` cannot be stored (missing, symlinks, device files). */
export class ImageSourceError extends ImageStoreError {
  constructor(message: string) {
    super("IMAGE_SOURCE_INVALID", message);
  }
}

export class OverlayError extends ImageStoreError {
  constructor(message: string) {
    super("OVERLAY_FAILED", message);
  }
}

/** QEMU (running as an unprivileged user) would get "Permission denied" on this path. */
export class QemuAccessError extends ImageStoreError {
  readonly path: string;
  constructor(path: string, message: string) {
    super("QEMU_CANNOT_READ", message);
    this.path = path;
  }
}
