// hostDisk files: which ones a host's allow-list lets a plan name, and how a
// DiskOrCreate file is made. Real files in a temporary directory.
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureHostDisk, hostDiskProblems, parseHostDiskDirs } from "../src/host_disks.ts";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-host-disks-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const create = (path: string, capacityBytes = 1 << 20) => ({
  volumeName: "data",
  path,
  hostDisk: { create: true, capacityBytes },
});

describe("parseHostDiskDirs", () => {
  it("takes absolute directories separated by ':', none when empty", () => {
    expect(parseHostDiskDirs(undefined)).toEqual([]);
    expect(parseHostDiskDirs("")).toEqual([]);
    expect(parseHostDiskDirs("/srv/disks/:/data//vm")).toEqual(["/srv/disks", "/data/vm"]);
  });

  it("refuses a relative directory, naming it", () => {
    expect(() => parseHostDiskDirs("/srv:disks")).toThrow(
      'HEADROOM_HOST_DISK_DIRS: "disks" is not an absolute directory',
    );
  });
});

describe("hostDiskProblems", () => {
  it("refuses every host disk on a host that allows none", async () => {
    expect(await hostDiskProblems("diskFiles[1]", create(join(dir, "a.img")), [])).toEqual([
      `diskFiles[1]: host disk "${join(dir, "a.img")}": this host allows no host disks (its launcher's HEADROOM_HOST_DISK_DIRS is empty)`,
    ]);
  });

  it("takes a file to make, or one there is, under an allowed directory", async () => {
    expect(await hostDiskProblems("f", create(join(dir, "new.img")), [dir])).toEqual([]);
    await writeFile(join(dir, "there.img"), "");
    expect(
      await hostDiskProblems("f", { volumeName: "d", path: join(dir, "there.img"), hostDisk: {} }, [
        dir,
      ]),
    ).toEqual([]);
  });

  it("refuses a path that is not absolute and normalized, a device, and a size out of bounds", async () => {
    expect(await hostDiskProblems("f", create(`${dir}/../x.img`), [dir])).toEqual([
      `f.path "${dir}/../x.img" is not an absolute, normalized path`,
    ]);
    expect(await hostDiskProblems("f", create("/dev/null"), ["/dev"])).toEqual([
      'f: host disk "/dev/null" is not a regular file',
    ]);
    expect(await hostDiskProblems("f", create(join(dir, "huge.img"), 2 ** 41), [dir])).toEqual([
      `f.hostDisk.capacityBytes ${2 ** 41} is not between 1 byte and 1 TiB`,
    ]);
  });
});

describe("ensureHostDisk", () => {
  it("makes a sparse file of the capacity, and leaves one that exists as it is", async () => {
    const path = join(dir, "made.img");
    expect(await ensureHostDisk(create(path, 16 << 20))).toBe("created");
    const made = await stat(path);
    expect(made.size).toBe(16 << 20);
    expect(made.blocks * 512).toBeLessThan(made.size);
    await writeFile(path, "kept");
    expect(await ensureHostDisk(create(path, 16 << 20))).toBe("exists");
    expect((await stat(path)).size).toBe(4);
  });
});
