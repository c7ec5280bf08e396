import { existsSync, readdirSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, sep } from "node:path";

const WILDCARD = /[*?[]/;

function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (const char of pattern) {
    if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether a COPY/ADD source exists in a build context: the path, relative to
 * the context root (a leading `/` means the root too, as Docker reads it), or,
 * with a wildcard in its last part, at least one match. Returns a reason when not.
 */
export function findInContext(contextDir: string, source: string): string | null {
  const inside = normalize(source.replace(/^\/+/, "") || ".");
  if (inside === ".." || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    return `${source} is outside the build context`;
  }
  const full = join(contextDir, inside);
  const parent = dirname(inside);
  const last = inside.slice(parent === "." ? 0 : parent.length + 1);
  if (WILDCARD.test(parent)) {
    return `${source} has a wildcard before its last part, which this check does not follow`;
  }
  if (!WILDCARD.test(last)) {
    return existsSync(full) ? null : `${source} does not exist in the build context`;
  }
  const dir = join(contextDir, parent);
  const pattern = globToRegExp(last);
  const matches = existsSync(dir) ? readdirSync(dir).filter((name) => pattern.test(name)) : [];
  return matches.length > 0 ? null : `${source} matches nothing in the build context`;
}

/** A path for messages: relative to `root`, with forward slashes. */
export function shown(root: string, path: string): string {
  return relative(root, path).split(sep).join("/") || ".";
}
