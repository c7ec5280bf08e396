/** A disk image headroom will not use, and why. */
export class DiskFormatError extends Error {
  override name = "DiskFormatError";
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`disk ${path} ${why}`);
  }
}
