import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Connection } from "@headroom/libvirt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bridgeNetworkName, ensureBridge, ensureDiskFile } from "../src/mod.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "headroom-host-"));
const MiB = 1024 ** 2;

async function qemuImg(...args: string[]): Promise<string> {
  return (await run("qemu-img", args)).stdout;
}

describe("ensureDiskFile", () => {
  const image = join(dir, "image.qcow2");
  beforeAll(async () => {
    await qemuImg("create", "-q", "-f", "qcow2", image, "32M");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates an overlay on the image once, and keeps it with what the guest wrote", async () => {
    const disk = {
      path: join(dir, "vm", "root.qcow2"),
      backingPath: image,
      backingFormat: "qcow2",
    };
    expect(await ensureDiskFile(disk)).toBe("created");
    await qemuImg("check", disk.path);
    expect(JSON.parse(await qemuImg("info", "--output=json", disk.path))).toMatchObject({
      "virtual-size": 32 * MiB,
      "backing-filename": image,
      "backing-filename-format": "qcow2",
    });
    await run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x11 0 64k", disk.path]);
    const written = readFileSync(disk.path);
    expect(await ensureDiskFile(disk)).toBe("kept");
    expect(readFileSync(disk.path).equals(written)).toBe(true);
  });

  it("makes one overlay when launches race for it", async () => {
    const disk = {
      path: join(dir, "race", "root.qcow2"),
      backingPath: image,
      backingFormat: "qcow2",
    };
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => ensureDiskFile(disk)));
    expect(outcomes.filter((outcome) => outcome === "created")).toHaveLength(1);
    await qemuImg("check", disk.path);
  });

  it("creates a blank disk of the planned size", async () => {
    const path = join(dir, "vm", "scratch.qcow2");
    expect(await ensureDiskFile({ path, blankSizeBytes: 16 * MiB })).toBe("created");
    expect(JSON.parse(await qemuImg("info", "--output=json", path))["virtual-size"]).toBe(16 * MiB);
  });

  it("refuses an image that names a host file, and makes no overlay on it", async () => {
    const sneaky = join(dir, "sneaky.qcow2");
    await qemuImg("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", sneaky, "1M");
    const path = join(dir, "victim", "root.qcow2");
    await expect(
      ensureDiskFile({ path, backingPath: sneaky, backingFormat: "qcow2" }),
    ).rejects.toThrow(
      `disk ${sneaky} names a backing file ("/etc/hostname"); images must be self-contained`,
    );
    expect(existsSync(path)).toBe(false);
  });

  it("refuses an image whose content is not the planned format", async () => {
    await expect(
      ensureDiskFile({
        path: join(dir, "vm", "wrong.qcow2"),
        backingPath: image,
        backingFormat: "raw",
      }),
    ).rejects.toThrow(`disk ${image} is qcow2, not raw as planned`);
  });

  it("refuses a kept overlay that was pointed at another file", async () => {
    const disk = {
      path: join(dir, "moved", "root.qcow2"),
      backingPath: image,
      backingFormat: "qcow2",
    };
    await ensureDiskFile(disk);
    await qemuImg("rebase", "-u", "-F", "raw", "-b", "/etc/hostname", disk.path);
    await expect(ensureDiskFile(disk)).rejects.toThrow(
      `reads "/etc/hostname", not its image ${image}`,
    );

    const raw = { path: join(dir, "moved", "raw.qcow2"), blankSizeBytes: MiB };
    writeFileSync(raw.path, Buffer.alloc(MiB));
    await expect(ensureDiskFile(raw)).rejects.toThrow("is raw, not the qcow2 headroom made");
  });
});

describe("ensureBridge", () => {
  let conn: Connection;
  const made: string[] = [];
  // Bridge names are at most 15 characters.
  const unique = (tag: string) =>
    `hr${tag}${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

  beforeAll(async () => {
    conn = await Connection.open();
  });
  afterAll(async () => {
    for (const bridge of made) {
      await run("virsh", ["-c", "qemu:///system", "net-destroy", bridgeNetworkName(bridge)]).catch(
        () => undefined,
      );
      await run("ip", ["link", "del", "dev", bridge]).catch(() => undefined);
    }
    await conn?.close();
  });

  it("creates a missing bridge once, up, and keeps it after", async () => {
    const bridge = unique("c");
    made.push(bridge);
    // Asked at once, they share one check: the bridge was created for all of them.
    const outcomes = await Promise.all([1, 2, 3].map(() => ensureBridge(conn, bridge)));
    expect(outcomes).toEqual(["created", "created", "created"]);
    expect(existsSync(`/sys/class/net/${bridge}/bridge`)).toBe(true);
    expect(Number.parseInt(readFileSync(`/sys/class/net/${bridge}/flags`, "utf8"), 16) & 1).toBe(1);
    expect(await ensureBridge(conn, bridge)).toBe("kept");
  });

  it("makes its bridge again when someone deleted it by hand", async () => {
    const bridge = unique("r");
    made.push(bridge);
    expect(await ensureBridge(conn, bridge)).toBe("created");
    await run("ip", ["link", "del", "dev", bridge]);
    expect(await ensureBridge(conn, bridge)).toBe("created");
    expect(existsSync(`/sys/class/net/${bridge}/bridge`)).toBe(true);
  });

  it("leaves what it did not make as it is: a bridge that is down, an interface that is no bridge", async () => {
    const down = unique("d");
    made.push(down);
    await run("ip", ["link", "add", "name", down, "type", "bridge"]);
    await expect(ensureBridge(conn, down)).rejects.toThrow(`host bridge ${down} is down`);
    expect(Number.parseInt(readFileSync(`/sys/class/net/${down}/flags`, "utf8"), 16) & 1).toBe(0);
    await expect(ensureBridge(conn, "lo")).rejects.toThrow(
      "host interface lo exists and is not a bridge",
    );
  });

  it("waits a moment for a bridge someone else is bringing up", async () => {
    const coming = unique("u");
    made.push(coming);
    await run("ip", ["link", "add", "name", coming, "type", "bridge"]);
    const ensured = ensureBridge(conn, coming);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await run("ip", ["link", "set", "dev", coming, "up"]);
    expect(await ensured).toBe("kept");
  });

  it("refuses a name that is not a bridge name", async () => {
    await expect(ensureBridge(conn, "../../etc")).rejects.toThrow(
      "is not a bridge name headroom creates",
    );
    await expect(ensureBridge(conn, "sixteen-chars-xx")).rejects.toThrow("is not a bridge name");
  });
});
