import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { createQcow2, DiskFormatError, inspectDisk, requireSelfContained } from "../src/mod.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "headroom-disk-format-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 ** 2;

async function qemuImg(...args: string[]): Promise<string> {
  return (await run("qemu-img", args)).stdout;
}

async function qemuInfo(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await qemuImg("info", "--output=json", "--", path));
}

describe("createQcow2", () => {
  it("writes an overlay that qemu-img finds clean and reads as its backing file", async () => {
    const base = join(dir, "base.qcow2");
    await qemuImg("create", "-q", "-f", "qcow2", base, "64M");
    await run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x5a 1M 2M", base]);
    const overlay = join(dir, "overlay.qcow2");
    await createQcow2(overlay, {
      virtualSizeBytes: 64 * MiB,
      backing: { path: base, format: "qcow2" },
    });

    await qemuImg("check", overlay);
    const info = await qemuInfo(overlay);
    expect(info).toMatchObject({
      format: "qcow2",
      "virtual-size": 64 * MiB,
      "backing-filename": base,
      "backing-filename-format": "qcow2",
    });
    // Same guest-visible bytes as the backing file, until the guest writes.
    expect(await qemuImg("compare", overlay, base)).toContain("identical");

    const before = readFileSync(base);
    await run("qemu-io", ["-f", "qcow2", "-c", "write -P 0xa5 0 64k", overlay]);
    await qemuImg("check", overlay);
    expect(readFileSync(base).equals(before)).toBe(true);
    expect(await qemuImg("compare", overlay, base).catch((error) => error.stdout)).toContain(
      "mismatch at offset 0",
    );
  });

  it("writes an overlay on a raw backing file", async () => {
    const base = join(dir, "base.raw");
    writeFileSync(base, Buffer.alloc(4 * MiB, 7));
    const overlay = join(dir, "on-raw.qcow2");
    await createQcow2(overlay, {
      virtualSizeBytes: 4 * MiB,
      backing: { path: base, format: "raw" },
    });
    await qemuImg("check", overlay);
    expect(await qemuInfo(overlay)).toMatchObject({ "backing-filename-format": "raw" });
    expect(await qemuImg("compare", "-F", "raw", overlay, base)).toContain("identical");
  });

  it.each([
    [1, 512],
    [512, 512],
    [10 * MiB + 1, 10 * MiB + 512],
    [3 * 1024 ** 4, 3 * 1024 ** 4],
    [5 * 1024 ** 4, 5 * 1024 ** 4], // an L1 table of two clusters
  ])(
    "writes a blank disk of %d bytes as %d bytes that qemu-img finds clean",
    async (asked, seen) => {
      const path = join(dir, `blank-${asked}.qcow2`);
      await createQcow2(path, { virtualSizeBytes: asked });
      await qemuImg("check", path);
      const info = await qemuInfo(path);
      expect(info["virtual-size"]).toBe(seen);
      expect(info["backing-filename"]).toBeUndefined();
      expect(await inspectDisk(path)).toEqual({
        format: "qcow2",
        virtualSizeBytes: seen,
        encrypted: false,
      });
    },
  );

  it("never replaces a file that is there, and leaves nothing beside it", async () => {
    const path = join(dir, "taken.qcow2");
    writeFileSync(path, "guest data");
    await expect(createQcow2(path, { virtualSizeBytes: MiB })).rejects.toMatchObject({
      code: "EEXIST",
    });
    expect(readFileSync(path, "utf8")).toBe("guest data");
    expect(readdirSync(dir).filter((name) => name.includes("partial"))).toEqual([]);
  });

  it("refuses sizes and backing names qcow2 cannot hold", async () => {
    await expect(createQcow2(join(dir, "zero.qcow2"), { virtualSizeBytes: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      createQcow2(join(dir, "long.qcow2"), {
        virtualSizeBytes: MiB,
        backing: { path: `/${"a".repeat(1100)}`, format: "raw" },
      }),
    ).rejects.toThrow(/backing file name/);
  });
});

describe("inspectDisk", () => {
  it("tells the format by content, not by name", async () => {
    const qcow2NamedRaw = join(dir, "looks.raw");
    await qemuImg("create", "-q", "-f", "qcow2", qcow2NamedRaw, "8M");
    expect(await inspectDisk(qcow2NamedRaw)).toMatchObject({
      format: "qcow2",
      virtualSizeBytes: 8 * MiB,
    });
    const rawNamedQcow2 = join(dir, "looks.qcow2");
    writeFileSync(rawNamedQcow2, Buffer.alloc(MiB));
    expect(await inspectDisk(rawNamedQcow2)).toEqual({
      format: "raw",
      virtualSizeBytes: MiB,
      encrypted: false,
    });
  });

  it("reads the backing file and its format that a qcow2 header names", async () => {
    const overlay = join(dir, "names-host-file.qcow2");
    await qemuImg("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", overlay, "1M");
    const info = await inspectDisk(overlay);
    expect(info).toMatchObject({ backingFile: "/etc/hostname", backingFormat: "raw" });
    expect(() => requireSelfContained(overlay, info)).toThrow(
      `disk ${overlay} names a backing file ("/etc/hostname"); images must be self-contained`,
    );
  });

  it("finds an external data file", async () => {
    const path = join(dir, "external.qcow2");
    await qemuImg(
      "create",
      "-q",
      "-f",
      "qcow2",
      "-o",
      `data_file=${join(dir, "external.data")}`,
      path,
      "1M",
    );
    const info = await inspectDisk(path);
    expect(info.externalDataFile).toBe(join(dir, "external.data"));
    expect(() => requireSelfContained(path, info)).toThrow(/keeps its data in an external file/);
  });

  it("finds encryption", async () => {
    const path = join(dir, "encrypted.qcow2");
    // qemu-img times its LUKS key derivation by the thread's CPU time, and on
    // a busy machine now and then reads no CPU time at all ("Unable to get
    // accurate CPU usage"): that is qemu-img's measurement, so try again.
    for (let attempt = 1; ; attempt++) {
      try {
        await qemuImg(
          "create",
          "-q",
          "--object",
          "secret,id=key,data=hunter2",
          "-f",
          "qcow2",
          "-o",
          "encrypt.format=luks,encrypt.key-secret=key",
          path,
          "1M",
        );
        break;
      } catch (error) {
        if (attempt >= 5 || !String(error).includes("Unable to get accurate CPU usage"))
          throw error;
      }
    }
    const info = await inspectDisk(path);
    expect(info.encrypted).toBe(true);
    expect(() => requireSelfContained(path, info)).toThrow(/is encrypted/);
  });

  it.each(["vmdk", "vdi", "vhdx", "vpc", "qed"])(
    "refuses a %s image, whatever its name",
    async (format) => {
      const path = join(dir, `other-${format}.raw`);
      await qemuImg("create", "-q", "-f", format, path, "8M");
      const error = await inspectDisk(path).catch((caught) => caught);
      expect(error).toBeInstanceOf(DiskFormatError);
      expect(error.message).toMatch(
        new RegExp(
          `^disk ${path} is a ${format}.* image; headroom takes qcow2 and raw disks only$`,
        ),
      );
    },
  );

  it("refuses a qcow2 header it cannot trust", async () => {
    const truncated = join(dir, "truncated.qcow2");
    writeFileSync(truncated, Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
    await expect(inspectDisk(truncated)).rejects.toThrow(/truncated header/);

    const header = readFileSync(join(dir, "overlay.qcow2")).subarray(0, 65536);
    const runaway = Buffer.from(header);
    runaway.writeBigUInt64BE(65530n, 8); // the backing name would end past the first cluster
    const path = join(dir, "runaway.qcow2");
    writeFileSync(path, runaway);
    await expect(inspectDisk(path)).rejects.toThrow(/backing file outside its first cluster/);
  });
});
