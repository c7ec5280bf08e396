import { execFile } from "node:child_process";
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  defaultImageStoreDir,
  detectDiskFormat,
  ImageFileNotFoundError,
  ImageNotFoundError,
  ImagePathError,
  ImageSourceError,
  type ImageStore,
  OverlayError,
  openImageStore,
  TINY_GUEST_REF,
} from "../src/mod.ts";

const run = promisify(execFile);

let work: string;
let storeDir: string;
let store: ImageStore;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "headroom-images-"));
  storeDir = join(work, "state", "images");
  store = openImageStore(storeDir);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A source tree shaped like the tiny guest image. */
async function makeSource(name: string, version: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(join(dir, "boot"), { recursive: true });
  await mkdir(join(dir, "disk"), { recursive: true });
  await writeFile(join(dir, "boot", "vmlinuz"), `kernel ${version}`);
  await writeFile(join(dir, "boot", "initrd.img"), `initrd ${version}`);
  await run("qemu-img", ["create", "-q", "-f", "qcow2", join(dir, "disk", "disk.qcow2"), "1M"]);
  return dir;
}

describe("defaultImageStoreDir", () => {
  it("lives under HEADROOM_STATE_DIR, defaulting to /var/lib/headroom", () => {
    expect(defaultImageStoreDir({})).toBe("/var/lib/headroom/images");
    expect(defaultImageStoreDir({ HEADROOM_STATE_DIR: "/srv/hr" })).toBe("/srv/hr/images");
  });
});

describe("add, list, resolve", () => {
  it("stores a directory tree and finds its files again", async () => {
    const source = await makeSource("guest", "1");
    const added = await store.add(TINY_GUEST_REF, source);
    expect(added.ref).toBe(TINY_GUEST_REF);
    expect(added.files).toBe(3);
    expect(added.sizeBytes).toBeGreaterThan(16);
    expect(Number.isNaN(Date.parse(added.addedAt))).toBe(false);

    const listed = await store.list();
    expect(listed).toEqual([added]);

    const { root } = await store.resolve(TINY_GUEST_REF);
    expect(root).toBe(added.path);
    expect(root.startsWith(storeDir + sep)).toBe(true);
    const kernel = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
    expect(await readFile(kernel, "utf8")).toBe("kernel 1");
    expect(await store.resolveFile(TINY_GUEST_REF, "boot/./initrd.img")).toBe(
      join(root, "boot", "initrd.img"),
    );
  });

  it("places a single file at the image root", async () => {
    const file = join(work, "disk.raw");
    await writeFile(file, "raw bytes");
    const added = await store.add("example/one-file", file);
    expect(added.files).toBe(1);
    expect(await readFile(await store.resolveFile("example/one-file", "/disk.raw"), "utf8")).toBe(
      "raw bytes",
    );
  });

  it("does not change the source, and later changes to the source do not reach the store", async () => {
    const source = await makeSource("guest", "1");
    await chmod(join(source, "boot", "vmlinuz"), 0o600);
    await store.add(TINY_GUEST_REF, source);
    expect((await stat(join(source, "boot", "vmlinuz"))).mode & 0o777).toBe(0o600);
    await writeFile(join(source, "boot", "vmlinuz"), "changed");
    const kernel = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
    expect(await readFile(kernel, "utf8")).toBe("kernel 1");
  });

  it("makes everything readable by QEMU's user: directories 0755, files 0644", async () => {
    const source = await makeSource("guest", "1");
    await chmod(join(source, "boot"), 0o700);
    await chmod(join(source, "boot", "vmlinuz"), 0o600);
    await chmod(join(source, "boot", "initrd.img"), 0o755);
    const previous = process.umask(0o077);
    try {
      await store.add(TINY_GUEST_REF, source);
    } finally {
      process.umask(previous);
    }
    const { root } = await store.resolve(TINY_GUEST_REF);
    const modeOf = async (path: string) => (await stat(path)).mode & 0o777;
    for (const dir of [
      join(work, "state"),
      storeDir,
      root,
      join(root, "boot"),
      join(root, "disk"),
    ]) {
      expect(await modeOf(dir), dir).toBe(0o755);
    }
    for (const file of ["boot/vmlinuz", "boot/initrd.img", "disk/disk.qcow2"]) {
      expect(await modeOf(join(root, file)), file).toBe(0o644);
    }
  });

  it("replaces an image under the same reference and drops the old copy", async () => {
    const first = await store.add(TINY_GUEST_REF, await makeSource("v1", "1"));
    const second = await store.add(TINY_GUEST_REF, await makeSource("v2", "2"));
    expect(second.path).not.toBe(first.path);
    expect(await store.list()).toEqual([second]);
    const kernel = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
    expect(await readFile(kernel, "utf8")).toBe("kernel 2");
    await expect(stat(first.path)).rejects.toThrow(/ENOENT/);
    expect(await readdir(join(storeDir, "objects"))).toHaveLength(1);
    expect(await readdir(join(storeDir, "tmp"))).toEqual([]);
  });

  it("lists several images sorted by reference", async () => {
    const source = await makeSource("guest", "1");
    await store.add("zeta/b", source);
    await store.add("alpha/a", source);
    await store.add("alpha/a:v2", source);
    expect((await store.list()).map((image) => image.ref)).toEqual([
      "alpha/a",
      "alpha/a:v2",
      "zeta/b",
    ]);
  });

  it("lists nothing, and resolves nothing, before the store exists", async () => {
    expect(await store.list()).toEqual([]);
    await expect(store.resolve("a/b")).rejects.toBeInstanceOf(ImageNotFoundError);
  });

  it("says where it looked and how to add the image when it is missing", async () => {
    const error = await store.resolve(TINY_GUEST_REF).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageNotFoundError);
    expect((error as Error).message).toBe(
      `image headroom/tiny-guest is not in the image store at ${storeDir}; add it with: headroom image add headroom/tiny-guest PATH (or build it with: bash infra/tiny-guest/build.sh)`,
    );
    await expect(store.resolveFile("other/img", "/boot/vmlinuz")).rejects.toThrow(
      `image other/img is not in the image store at ${storeDir}; add it with: headroom image add other/img PATH`,
    );
  });

  it("refuses sources that are missing or hold symbolic links", async () => {
    await expect(store.add("a/b", join(work, "nope"))).rejects.toThrow(
      `source ${join(work, "nope")} does not exist`,
    );
    const source = await makeSource("guest", "1");
    await symlink("/etc/passwd", join(source, "boot", "passwd"));
    const error = await store.add("a/b", source).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageSourceError);
    expect((error as Error).message).toContain(
      `${join(source, "boot", "passwd")} is a symbolic link`,
    );
    expect(await store.list()).toEqual([]);
  });

  it("follows a symbolic link given as the source itself", async () => {
    const source = await makeSource("guest", "1");
    await symlink(source, join(work, "current"));
    await store.add("a/b", join(work, "current"));
    expect(await readFile(await store.resolveFile("a/b", "/boot/vmlinuz"), "utf8")).toBe(
      "kernel 1",
    );
  });
});

describe("references cannot escape the store", () => {
  it("keeps every tricky reference inside refs/ and finds it again", async () => {
    const source = await makeSource("guest", "1");
    const tricky = ["..", "../..", "../../../escaped", "/abs/path", ".", "./x", "a/../../../b"];
    for (const ref of tricky) {
      const added = await store.add(ref, source);
      expect(added.path.startsWith(join(storeDir, "objects") + sep)).toBe(true);
    }
    expect(new Set((await store.list()).map((image) => image.ref))).toEqual(new Set(tricky));
    expect((await readdir(join(storeDir, "refs"))).length).toBe(tricky.length);
    // Nothing appeared beside the store or above it.
    expect((await readdir(work)).sort()).toEqual(["guest", "state"]);
    expect(await readdir(join(work, "state"))).toEqual(["images"]);
    expect((await readdir(storeDir)).sort()).toEqual(["objects", "refs", "tmp"]);
    for (const ref of tricky) {
      expect(await store.remove(ref)).toBe(true);
    }
    expect(await readdir(join(storeDir, "objects"))).toEqual([]);
  });
});

describe("resolveFile", () => {
  beforeEach(async () => {
    await store.add(TINY_GUEST_REF, await makeSource("guest", "1"));
  });

  it("refuses paths that climb out of the image", async () => {
    for (const path of ["../image.json", "/boot/../../image.json", "../../refs", ".."]) {
      const error = await store.resolveFile(TINY_GUEST_REF, path).catch((e: unknown) => e);
      expect(error, path).toBeInstanceOf(ImagePathError);
      expect((error as Error).message).toContain('must not contain ".."');
    }
    await expect(store.resolveFile(TINY_GUEST_REF, "/")).rejects.toThrow(/names no file/);
    await expect(store.resolveFile(TINY_GUEST_REF, "a\0b")).rejects.toThrow(/is not a path/);
  });

  it("refuses a symbolic link inside the store that points outside the image", async () => {
    const { root } = await store.resolve(TINY_GUEST_REF);
    await symlink("/etc/hostname", join(root, "boot", "escape"));
    await symlink("vmlinuz", join(root, "boot", "alias"));
    await expect(store.resolveFile(TINY_GUEST_REF, "/boot/escape")).rejects.toThrow(
      /path \/boot\/escape in image headroom\/tiny-guest leads outside the image/,
    );
    expect(await store.resolveFile(TINY_GUEST_REF, "/boot/alias")).toBe(
      join(root, "boot", "vmlinuz"),
    );
  });

  it("says which file is missing from which image", async () => {
    const error = await store
      .resolveFile(TINY_GUEST_REF, "/boot/vmlinuz-missing")
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageFileNotFoundError);
    expect((error as Error).message).toMatch(
      /^image headroom\/tiny-guest has no file \/boot\/vmlinuz-missing: not found in /,
    );
    await expect(store.resolveFile(TINY_GUEST_REF, "/boot")).rejects.toThrow(
      "image headroom/tiny-guest has no file /boot: it is a directory, not a regular file",
    );
  });
});

describe("diskOf and createOverlay", () => {
  it("finds the first file under /disk/", async () => {
    const source = await makeSource("guest", "1");
    await writeFile(join(source, "disk", "zz-second.raw"), "");
    await store.add(TINY_GUEST_REF, source);
    const { root } = await store.resolve(TINY_GUEST_REF);
    expect(await store.diskOf(TINY_GUEST_REF)).toBe(join(root, "disk", "disk.qcow2"));
  });

  it("explains the containerDisk layout when an image has no disk", async () => {
    const file = join(work, "vmlinuz");
    await writeFile(file, "kernel");
    await store.add("kernel/only", file);
    await expect(store.diskOf("kernel/only")).rejects.toThrow(
      "image kernel/only has no file /disk/*: a containerDisk image keeps its disk as a file under /disk/ (for example /disk/disk.qcow2)",
    );
  });

  it("creates a qcow2 overlay backed by the stored disk, leaving the stored disk alone", async () => {
    await store.add(TINY_GUEST_REF, await makeSource("guest", "1"));
    const backing = await store.diskOf(TINY_GUEST_REF);
    const before = await readFile(backing);
    const dest = join(work, "vmi-disk.qcow2");
    const overlay = await store.createOverlay(TINY_GUEST_REF, dest);
    expect(overlay).toEqual({ path: dest, backingPath: backing, backingFormat: "qcow2" });

    const { stdout } = await run("qemu-img", ["info", "--output=json", dest]);
    const info = JSON.parse(stdout) as Record<string, unknown>;
    expect(info.format).toBe("qcow2");
    expect(info["backing-filename"]).toBe(backing);
    expect(info["backing-filename-format"]).toBe("qcow2");

    // Writing through the overlay must not touch the shared disk.
    await run("qemu-io", ["-c", "write -P 0xab 0 64k", dest]);
    expect((await readFile(backing)).equals(before)).toBe(true);

    await expect(store.createOverlay(TINY_GUEST_REF, dest)).rejects.toBeInstanceOf(OverlayError);
    await expect(store.createOverlay(TINY_GUEST_REF, dest)).rejects.toThrow(/already exists/);
    const replaced = await store.createOverlay(TINY_GUEST_REF, dest, { replace: true });
    expect(replaced.path).toBe(dest);
  });

  it("backs an overlay on a raw disk with format raw, also when named .img", async () => {
    const source = join(work, "raw-image");
    await mkdir(join(source, "disk"), { recursive: true });
    await run("qemu-img", ["create", "-q", "-f", "raw", join(source, "disk", "disk.img"), "1M"]);
    await store.add("example/raw", source);
    const overlay = await store.createOverlay("example/raw", join(work, "o.qcow2"));
    expect(overlay.backingFormat).toBe("raw");
  });

  it("says why when the overlay cannot be written", async () => {
    await store.add(TINY_GUEST_REF, await makeSource("guest", "1"));
    await expect(
      store.createOverlay(TINY_GUEST_REF, join(work, "no-such-dir", "o.qcow2")),
    ).rejects.toThrow(/^could not create overlay .*no-such-dir\/o\.qcow2 on .*ENOENT/);
  });

  it("detects disk formats by content, whatever the name", async () => {
    const qcow2AsRaw = join(work, "cirros.raw");
    await run("qemu-img", ["create", "-q", "-f", "qcow2", qcow2AsRaw, "1M"]);
    expect(await detectDiskFormat(qcow2AsRaw)).toBe("qcow2");
    const rawAsQcow2 = join(work, "plain.qcow2");
    await writeFile(rawAsQcow2, Buffer.alloc(4096));
    expect(await detectDiskFormat(rawAsQcow2)).toBe("raw");
    await expect(detectDiskFormat(join(work, "missing.img"))).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});

describe("images are checked by content when added", () => {
  async function imageWithDisk(name: string, ...qemuImgArgs: string[]): Promise<string> {
    const source = join(work, name);
    await mkdir(join(source, "disk"), { recursive: true });
    await run("qemu-img", [
      "create",
      "-q",
      ...qemuImgArgs.map((arg) => arg.replace("DISK", join(source, "disk", "disk.img"))),
    ]);
    return source;
  }

  it.each([
    [
      "a backing file on the host",
      ["-f", "qcow2", "-F", "raw", "-b", "/etc/shadow", "DISK", "1M"],
      'names a backing file ("/etc/shadow")',
    ],
    [
      "an external data file",
      ["-f", "qcow2", "-o", "data_file=/tmp/headroom-elsewhere.raw", "DISK", "1M"],
      "keeps its data in an external file",
    ],
    [
      "another format",
      ["-f", "vmdk", "DISK", "1M"],
      "is a vmdk image; headroom takes qcow2 and raw disks only",
    ],
  ])("refuses a disk with %s, and stores nothing", async (_what, args, why) => {
    const source = await imageWithDisk(`bad-${args[1]}-${args.length}`, ...args);
    const added = store.add("example/bad", source);
    await expect(added).rejects.toBeInstanceOf(ImageSourceError);
    await expect(store.add("example/bad", source)).rejects.toThrow(
      `${source}: disk /disk/disk.img ${why}`,
    );
    expect(await store.list()).toEqual([]);
    expect(await readdir(join(storeDir, "objects")).catch(() => [])).toEqual([]);
    expect(await readdir(join(storeDir, "tmp")).catch(() => [])).toEqual([]);
  });

  it("takes self-contained qcow2 and raw disks", async () => {
    await store.add(
      "example/qcow2",
      await imageWithDisk("good-qcow2", "-f", "qcow2", "DISK", "1M"),
    );
    await store.add("example/raw", await imageWithDisk("good-raw", "-f", "raw", "DISK", "1M"));
    expect((await store.list()).map((image) => image.ref)).toEqual([
      "example/qcow2",
      "example/raw",
    ]);
  });
});

describe("remove and prune", () => {
  it("removes an image and reports whether there was one", async () => {
    await store.add("a/b", await makeSource("guest", "1"));
    expect(await store.remove("a/b")).toBe(true);
    expect(await store.remove("a/b")).toBe(false);
    expect(await store.list()).toEqual([]);
    expect(await readdir(join(storeDir, "objects"))).toEqual([]);
  });

  it("prunes stale staging directories and unreferenced objects, keeping live ones", async () => {
    const live = await store.add("a/b", await makeSource("guest", "1"));
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await mkdir(join(storeDir, "tmp", "crashed-add"));
    await utimes(join(storeDir, "tmp", "crashed-add"), old, old);
    await mkdir(join(storeDir, "tmp", "add-in-progress"));
    await mkdir(join(storeDir, "objects", "lost-race"));
    await utimes(join(storeDir, "objects", "lost-race"), old, old);
    expect(await store.prune()).toBe(2);
    expect(await readdir(join(storeDir, "tmp"))).toEqual(["add-in-progress"]);
    expect(await readdir(join(storeDir, "objects"))).toHaveLength(1);
    expect((await store.resolve("a/b")).root).toBe(live.path);
  });
});

describe("concurrent readers", () => {
  it("see either the old image or the new one, never a missing or mixed one", async () => {
    const sources = [await makeSource("v1", "1"), await makeSource("v2", "2")];
    await store.add("a/b", sources[0] as string);
    let adding = true;
    let reads = 0;
    const reader = (async () => {
      while (adding) {
        // Resolving must always succeed: the reference is swapped, never absent.
        const { root } = await store.resolve("a/b");
        try {
          const kernel = await readFile(join(root, "boot", "vmlinuz"), "utf8");
          const initrd = await readFile(join(root, "boot", "initrd.img"), "utf8");
          expect(kernel.split(" ")[1]).toBe(initrd.split(" ")[1]);
          reads++;
        } catch (error) {
          // The version we resolved was replaced and deleted in between: allowed.
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        }
      }
    })();
    for (let i = 0; i < 12; i++) await store.add("a/b", sources[i % 2] as string);
    adding = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(join(storeDir, "objects"))).toHaveLength(1);
  });
});

describe("registry layers", () => {
  const digest = (char: string) => `sha256:${char.repeat(64)}`;

  it("keeps a layer once under its digest, and a second keep of it uses the first", async () => {
    expect(await store.layer(digest("a"))).toBeUndefined();
    const first = await store.stageLayer(digest("a"));
    await mkdir(join(first.root, "disk"));
    await writeFile(join(first.root, "disk", "d"), "one");
    const second = await store.stageLayer(digest("a"));
    await writeFile(join(second.root, "other"), "two");
    const root = await first.commit();
    expect(await second.commit()).toBe(root);
    expect(await store.layer(digest("a"))).toBe(root);
    expect(await readdir(root)).toEqual(["disk"]);
    expect((await stat(join(root, "disk", "d"))).mode & 0o777).toBe(0o644);
    // Nothing is left in the store's staging area.
    expect(await readdir(join(storeDir, "tmp"))).toEqual([]);
  });

  it("refuses a layer holding a link, and a digest that is not one", async () => {
    const staging = await store.stageLayer(digest("b"));
    await symlink("/etc/shadow", join(staging.root, "x"));
    await expect(staging.commit()).rejects.toThrow(/is a symbolic link/);
    expect(await store.layer(digest("b"))).toBeUndefined();
    await expect(store.stageLayer("sha256:../../etc")).rejects.toThrow(/is not a layer digest/);
    await expect(store.layer("md5:00")).rejects.toThrow(/is not a layer digest/);
  });

  it("keeps the layers of the images it holds, and prunes the others once they are old", async () => {
    for (const char of ["c", "d"]) {
      const staging = await store.stageLayer(digest(char));
      await writeFile(join(staging.root, char), char);
      await staging.commit();
    }
    const source = await makeSource("layered", "1");
    await store.add("lab/layered", source, { layers: [digest("c")] });
    expect((await store.resolve("lab/layered")).layers).toEqual([digest("c")]);
    // Just kept: a pull may be making an image of it.
    expect(await store.prune()).toBe(0);
    expect(await store.prune({ layerGraceMs: 0 })).toBe(1);
    expect(await store.layer(digest("c"))).toBeDefined();
    expect(await store.layer(digest("d"))).toBeUndefined();
  });

  it("refuses an image over the size it is allowed", async () => {
    const source = await makeSource("sized", "1");
    await expect(store.add("lab/sized", source, { maxBytes: 10 })).rejects.toThrow(
      /holds \d+ bytes of files, over this host's limit of 10/,
    );
    expect(await store.list()).toEqual([]);
  });
});
