import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unpackLayer } from "../src/layers.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-layers-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function layer(name: string, files: Record<string, string>): Promise<string> {
  const src = join(dir, `src-${name}`);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(src, path, ".."), { recursive: true });
    await writeFile(join(src, path), content);
  }
  const file = join(dir, `${name}.tar.gz`);
  await create({ cwd: src, gzip: true, file }, Object.keys(files));
  return file;
}

describe("unpackLayer", () => {
  it("applies layers in order: later files replace, whiteouts delete", async () => {
    const root = join(dir, "root");
    await mkdir(root);
    const seen = { bytes: 0, refused: [] };
    await unpackLayer(
      await layer("one", { "disk/a": "a1", "disk/b": "b1", "old/x": "x" }),
      root,
      seen,
      1 << 20,
    );
    await unpackLayer(
      await layer("two", { "disk/a": "a2", "disk/.wh.b": "", "old/.wh..wh..opq": "" }),
      root,
      seen,
      1 << 20,
    );
    expect((await readdir(join(root, "disk"))).sort()).toEqual(["a"]);
    expect(await readdir(join(root, "old"))).toEqual([]);
    expect(seen.refused).toEqual([]);
  });

  it("stops writing past the limit", async () => {
    const root = join(dir, "small");
    await mkdir(root);
    await expect(
      unpackLayer(
        await layer("big", { "disk/a": "x".repeat(1000) }),
        root,
        { bytes: 0, refused: [] },
        100,
      ),
    ).rejects.toThrow("unpacks to more than this host's limit of 100 bytes");
    // The file over the limit was not written.
    expect(await readdir(root, { recursive: true })).toEqual([]);
  });
});
