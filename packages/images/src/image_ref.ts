import { createHash } from "node:crypto";
import { InvalidImageRefError } from "./errors.ts";

/** Longest reference accepted; OCI names, tags and digests fit well below it. */
export const MAX_IMAGE_REF_LENGTH = 1024;

/** Longest store key; keeps one path component well under the 255-byte limit. */
const MAX_KEY_LENGTH = 200;

/** Returns the reference unchanged, or throws InvalidImageRefError saying what is wrong. */
export function validateImageRef(ref: unknown): string {
  if (typeof ref !== "string") {
    throw new InvalidImageRefError(String(ref), "it must be a string");
  }
  if (ref.length === 0) throw new InvalidImageRefError(ref, "it is empty");
  if (ref.length > MAX_IMAGE_REF_LENGTH) {
    throw new InvalidImageRefError(ref, `it is longer than ${MAX_IMAGE_REF_LENGTH} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (/[\s\u0000-\u001f\u007f]/.test(ref)) {
    throw new InvalidImageRefError(ref, "it contains whitespace or control characters");
  }
  return ref;
}

/**
 * The store's directory name for a reference: one path component, reversible
 * for short references. Bytes outside [A-Za-z0-9._-] are %XX-encoded, and so
 * is a leading dot, so no reference can become "", "." or ".." or contain "/".
 * Very long references are cut and made unique with a SHA-256 suffix.
 */
export function imageKey(ref: string): string {
  validateImageRef(ref);
  let key = "";
  for (const byte of Buffer.from(ref, "utf8")) {
    const ch = String.fromCharCode(byte);
    const safe = /[A-Za-z0-9_-]/.test(ch) || (ch === "." && key.length > 0);
    key += safe ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (key.length > MAX_KEY_LENGTH) {
    const digest = createHash("sha256").update(ref).digest("hex").slice(0, 40);
    key = `${key.slice(0, MAX_KEY_LENGTH - 41)}~${digest}`;
  }
  return key;
}
