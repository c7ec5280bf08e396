import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyLayer, unpackLayer } from "../src/layers.ts";

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

/** Unpacks a layer archive into a tree of its own, as the image store keeps it. */
async function unpacked(name: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, `layer-${name}`);
  await mkdir(root);
  const seen = await unpackLayer(await layer(name, files), root, 1 << 20);
  expect(seen.refused).toEqual([]);
  return root;
}

describe("layers", () => {
  it("keeps a layer as its archive holds it, whiteouts included", async () => {
    const root = await unpacked("as-is", { "disk/a": "a", "disk/.wh.b": "" });
    expect((await readdir(join(root, "disk"))).sort()).toEqual([".wh.b", "a"]);
  });

  it("applies layers in order: later files replace, whiteouts delete, files are links", async () => {
    const one = await unpacked("one", { "disk/a": "a1", "disk/b": "b1", "old/x": "x" });
    const two = await unpacked("two", { "disk/a": "a2", "disk/.wh.b": "", "old/.wh..wh..opq": "" });
    const image = join(dir, "image");
    await mkdir(image);
    await applyLayer(one, image);
    await applyLayer(two, image);
    expect((await readdir(join(image, "disk"))).sort()).toEqual(["a"]);
    expect(await readFile(join(image, "disk", "a"), "utf8")).toBe("a2");
    expect(await readdir(join(image, "old"))).toEqual([]);
    // The image's file is the layer's file, not a copy of it.
    expect((await stat(join(image, "disk", "a"))).ino).toBe(
      (await stat(join(two, "disk", "a"))).ino,
    );
    // The layers themselves are left as they were.
    expect((await readdir(join(one, "disk"))).sort()).toEqual(["a", "b"]);
  });

  it("refuses a whiteout that would climb out of its folder", async () => {
    const bad = await unpacked("climb", { "disk/.wh..": "" });
    const image = join(dir, "climb-image");
    await mkdir(join(image, "disk"), { recursive: true });
    await expect(applyLayer(bad, image)).rejects.toThrow('the whiteout ".wh.."');
    expect(await readdir(image)).toEqual(["disk"]);
  });

  it("stops writing past the limit", async () => {
    const root = join(dir, "small");
    await mkdir(root);
    await expect(
      unpackLayer(await layer("big", { "disk/a": "x".repeat(1000) }), root, 100),
    ).rejects.toThrow("unpacks to more than this host's limit of 100 bytes");
    // The file over the limit was not written.
    expect(await readdir(root, { recursive: true })).toEqual([]);
  });
});
