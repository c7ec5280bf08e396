// Commands that work on this host's state directory: the image store.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headroom } from "./run.ts";

let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-state-"));
});

afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe("headroom image add, get images, delete image", () => {
  let source: string;

  beforeAll(async () => {
    source = join(stateDir, "source");
    await mkdir(join(source, "boot"), { recursive: true });
    await writeFile(join(source, "boot", "vmlinuz"), Buffer.alloc(1536));
    await writeFile(join(source, "boot", "initrd.img"), "initrd");
  });

  it("adds an image, lists it, shows it as JSON, deletes it", async () => {
    const state = ["--state-dir", stateDir];
    const add = await headroom([...state, "image", "add", "lab/tiny:1", source]);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toBe("image/lab/tiny:1 added (2 files, 1.5KiB)\n");

    const table = await headroom([...state, "get", "images"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]?.split(/ +/)).toEqual(["REF", "FILES", "SIZE", "AGE"]);
    expect(lines[1]).toMatch(/^lab\/tiny:1 +2 +1\.5KiB +\d+s$/);

    const json = await headroom([...state, "get", "images", "-o", "json"]);
    const list = JSON.parse(json.stdout);
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    expect(list.items).toEqual([
      {
        ref: "lab/tiny:1",
        path: expect.stringContaining(join(stateDir, "images")),
        files: 2,
        sizeBytes: 1542,
        addedAt: expect.stringMatching(/^\d{4}-/),
      },
    ]);
    const one = await headroom([...state, "get", "image", "lab/tiny:1", "-o", "json"]);
    expect(JSON.parse(one.stdout).ref).toBe("lab/tiny:1");

    const del = await headroom([...state, "delete", "image", "lab/tiny:1"]);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe("image/lab/tiny:1 deleted\n");
    const again = await headroom([...state, "delete", "image", "lab/tiny:1"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("headroom: image/lab/tiny:1 not found\n");
    const empty = await headroom([...state, "get", "images", "-o", "json"]);
    expect(JSON.parse(empty.stdout).items).toEqual([]);
  });

  it("refuses a missing source (exit 2) and finds no unknown image (exit 1)", async () => {
    const add = await headroom([
      "--state-dir",
      stateDir,
      "image",
      "add",
      "x/y",
      join(stateDir, "nope"),
    ]);
    expect(add.code).toBe(2);
    expect(add.stderr).toMatch(/^headroom: .*nope/);
    const get = await headroom(["--state-dir", stateDir, "get", "image", "x/y"]);
    expect(get.code).toBe(1);
    expect(get.stderr).toBe("headroom: image/x/y not found\n");
  });
});
