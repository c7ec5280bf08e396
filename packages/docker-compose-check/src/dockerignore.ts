// .dockerignore as Docker reads it: one pattern a line, `#` comments, `!` to
// let back in what an earlier line left out, `**` for any number of
// directories; a path is left out when it or a parent directory matches, and
// the last matching line decides.
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";

export interface IgnorePattern {
  pattern: string;
  exception: boolean;
  regexp: RegExp;
}

function toRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      source += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (char === "*") source += "[^/]*";
    else if (char === "?") source += "[^/]";
    else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  const patterns: IgnorePattern[] = [];
  for (const raw of text.split("\n")) {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const exception = line.startsWith("!");
    if (exception) line = line.slice(1).trim();
    const pattern = posix.normalize(line).replace(/^\/+/, "").replace(/\/+$/, "");
    if (pattern === "" || pattern === ".") continue;
    patterns.push({ pattern, exception, regexp: toRegExp(pattern) });
  }
  return patterns;
}

/** The patterns of `<contextDir>/.dockerignore`, or null when there is none. */
export function readDockerignore(contextDir: string): IgnorePattern[] | null {
  const file = join(contextDir, ".dockerignore");
  return existsSync(file) ? parseDockerignore(readFileSync(file, "utf8")) : null;
}

/** Whether a path (relative to the context root, `/`-separated) is left out of the context. */
export function isIgnored(patterns: IgnorePattern[], path: string): boolean {
  const parts = posix.normalize(path).replace(/^\/+/, "").split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const { exception, regexp } of patterns) {
    if (candidates.some((candidate) => regexp.test(candidate))) ignored = !exception;
  }
  return ignored;
}
