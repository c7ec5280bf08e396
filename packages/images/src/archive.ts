// What an image unpacked from an archive may hold, said once for every way an
// image arrives as one (an upload fetched from headroom's image store, the
// layers of a registry's image): regular files and folders, nothing else.
import { ImageSourceError } from "./errors.ts";

/** node-tar's entry types an image may hold. */
export const IMAGE_ENTRY_TYPES: ReadonlySet<string> = new Set([
  "File",
  "OldFile",
  "ContiguousFile",
  "Directory",
]);

/** The refusal of image `ref`, whose archive held `refused` (`path (Type)` each). */
export function notFilesAndFolders(ref: string, refused: readonly string[]): ImageSourceError {
  const shown = refused.slice(0, 3).join(", ");
  return new ImageSourceError(
    `image ${ref} holds ${shown}${refused.length > 3 ? " and more" : ""}; images hold only files and folders`,
  );
}

/** Whether node-tar refused the bytes as an archive (its TAR_* error codes). */
export function isArchiveError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && code.startsWith("TAR_");
}
