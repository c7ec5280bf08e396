/** A disk image headroom will not use, and why. */
export class DiskFormatError extends Error {
  override name = "DiskFormatError";
  constructor(
    readonly path: string,
    /** The message without the path, for callers that name the disk their own way. */
    readonly why: string,
  ) {
    super(`disk ${path} ${why}`);
  }
}
