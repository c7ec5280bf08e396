/**
 * Field paths as users read them: `spec.domain.devices.interfaces[1].name`,
 * `spec.domain.resources.requests[kubevirt.io/interface]`. Keys that are not
 * plain identifiers go in brackets so the path stays unambiguous.
 */

export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Longer than any key headroom accepts (a label key is at most 317 characters). An unknown
 * key past it is cut short in the path, so that errors about a document of huge keys stay
 * a fraction of the document's size and a rejection always fits in a reply.
 */
export const MAX_PATH_KEY = 320;

function shortKey(segment: string): string {
  return segment.length > MAX_PATH_KEY ? `${segment.slice(0, MAX_PATH_KEY)}…` : segment;
}

export function formatPath(segments: readonly PathSegment[]): string {
  let path = "";
  for (const segment of segments) path = child(path, segment);
  return path;
}

/** Appends a key or index to a formatted path. */
export function child(path: string, segment: PathSegment): string {
  if (typeof segment === "number") return `${path}[${segment}]`;
  const key = shortKey(segment);
  if (!PLAIN_KEY.test(key)) return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/**
 * Turns an ajv instancePath (a JSON pointer) into segments, using the document
 * itself to tell list indexes from object keys that happen to be digits.
 */
export function pointerSegments(document: unknown, pointer: string): PathSegment[] {
  if (pointer === "") return [];
  const segments: PathSegment[] = [];
  let node = document;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (Array.isArray(node)) {
      const index = Number(key);
      segments.push(index);
      node = node[index];
    } else {
      segments.push(key);
      node = isObject(node) ? node[key] : undefined;
    }
  }
  return segments;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
