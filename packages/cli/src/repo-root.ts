import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The headroom checkout this CLI belongs to: the nearest directory above this
 * file whose package.json declares workspaces. Found from the CLI's own
 * location, so `headroom up` works from any working directory.
 */
export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && "workspaces" in JSON.parse(readFileSync(manifest, "utf8"))) {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`no headroom checkout (package.json with workspaces) above ${from}`);
    dir = parent;
  }
}
