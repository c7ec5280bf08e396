import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bin } from "./run.ts";

describe("bin/headroom.js", () => {
  const dir = mkdtempSync(join(tmpdir(), "headroom-cli-bin-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("says to build when dist/ is missing, with exit 2", () => {
    // A checkout that was never built: the bin at its place, nothing beside it.
    const copy = join(dir, "packages", "cli", "bin", "headroom.js");
    mkdirSync(join(dir, "packages", "cli", "bin"), { recursive: true });
    copyFileSync(bin, copy);
    const run = spawnSync(process.execPath, [copy, "--help"], { encoding: "utf8" });
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `headroom: the CLI is not built (${join(dir, "packages", "cli", "dist", "main.js")} is missing): run npm run build in ${dir}\n`,
    );
    expect(run.status).toBe(2);
  });
});
