// hostDisk volumes, as KubeVirt users write them, on a host whose launcher
// allows one directory (HEADROOM_HOST_DISK_DIRS). DiskOrCreate makes a sparse
// raw file the guest sees at its capacity; the file outlives the VMI, and a
// later VMI's type Disk takes it as it is. A shareable one is used by two
// guests at once. A path outside the directory, a
// link in it that leads out, a missing Disk and a host that allows none fail
// the VMI with the reason, and nothing is made.
import { existsSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { chmod, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace } from "./host.ts";
import { applyAndWait, consoleUntil, headroom } from "./run.ts";

const allowed = mkdtempSync(join(tmpdir(), "headroom-host-disks-"));
const outside = mkdtempSync(join(tmpdir(), "headroom-not-allowed-"));
const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  env: { HEADROOM_HOST_DISK_DIRS: allowed },
  refusals: /(Publish|Subscription) Violation/,
});

beforeAll(async () => {
  // QEMU runs as its own user and must reach the files.
  await Promise.all([chmod(allowed, 0o755), chmod(outside, 0o755)]);
});

afterAll(async () => {
  await Promise.all([allowed, outside].map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The seed VMI with a hostDisk volume `data` (its disk has serial HOSTDISK, and `disk`'s fields). */
async function withHostDisk(
  name: string,
  hostDisk: Record<string, unknown>,
  disk: Record<string, unknown> = {},
) {
  const vmi = await stack.seedManifest(name);
  vmi.spec.domain.devices.disks.push({
    name: "data",
    serial: "HOSTDISK",
    disk: { bus: "virtio" },
    ...disk,
  });
  vmi.spec.volumes.push({ name: "data", hostDisk });
  return vmi;
}

describe("hostDisk volumes", () => {
  const file = join(allowed, "data.img");

  it("DiskOrCreate makes the file, which outlives the VMI, and Disk takes it again", async () => {
    const first = await withHostDisk("hostdisk-create", {
      path: file,
      type: "DiskOrCreate",
      capacity: "32Mi",
    });
    const apply = await applyAndWait(cli, stack.stateDir, "hostdisk-create", first);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);
    const booted = await consoleUntil(cli, "hostdisk-create", "headroom-guest: disks ");
    expect(booted).toMatch(/^headroom-guest: disks vda=50331648,vdb=33554432:HOSTDISK$/m);
    const made = await stat(file);
    expect(made.size).toBe(32 * 1024 * 1024);
    // Sparse: nothing written yet takes no room.
    expect(made.blocks * 512).toBeLessThan(made.size);

    const deleted = await headroom([...cli, "delete", "vmi", "hostdisk-create", "--wait"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(existsSync(file)).toBe(true);

    const again = await withHostDisk("hostdisk-reuse", { path: file, type: "Disk" });
    const reapply = await applyAndWait(cli, stack.stateDir, "hostdisk-reuse", again);
    expect(reapply.code, reapply.stderr).toBe(0);
    const seen = await consoleUntil(cli, "hostdisk-reuse", "headroom-guest: disks ");
    expect(seen).toMatch(/^headroom-guest: disks vda=50331648,vdb=33554432:HOSTDISK$/m);
  }, 300_000);

  it.each([
    [
      "outside the allowed directory",
      () => join(outside, "x.img"),
      "is not under a directory this host allows for host disks",
    ],
    [
      "a link in it that leads out",
      () => {
        const link = join(allowed, "escape.img");
        symlinkSync(join(outside, "target.img"), link);
        return link;
      },
      "is a link to nothing",
    ],
    [
      "a link in it to a file outside",
      () => {
        const link = join(allowed, "escape2.img");
        writeFileSync(join(outside, "there.img"), "");
        symlinkSync(join(outside, "there.img"), link);
        return link;
      },
      "is not under a directory this host allows for host disks",
    ],
  ])(
    "refuses a file %s, and makes none",
    async (_what, pathOf, reason) => {
      const path = pathOf();
      const name = `hostdisk-refused-${path.slice(path.lastIndexOf("/") + 1).replace(".img", "")}`;
      const vmi = await withHostDisk(name, { path, type: "DiskOrCreate", capacity: "8Mi" });
      const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
      expect(apply.code).toBe(1);
      expect(apply.stderr).toContain(reason);
      expect(existsSync(join(outside, "x.img"))).toBe(false);
      expect(existsSync(join(outside, "target.img"))).toBe(false);
    },
    120_000,
  );

  it("shareable: two VMIs use one host disk at once and see each other's writes; unshared, a third is refused", async () => {
    const path = join(allowed, "shared.img");
    const stamped = async (name: string, text: string, disk: Record<string, unknown>) => {
      const vmi = await withHostDisk(name, { path, type: "DiskOrCreate", capacity: "8Mi" }, disk);
      vmi.spec.domain.firmware.kernelBoot.kernelArgs += ` headroom.stamp=HOSTDISK:${text}`;
      return applyAndWait(cli, stack.stateDir, name, vmi);
    };
    const first = await stamped("hostdisk-share-1", "first", { shareable: true });
    expect(first.code, first.stderr).toBe(0);
    expect(await consoleUntil(cli, "hostdisk-share-1", "headroom-guest: stamp ")).toMatch(
      /^headroom-guest: stamp dev=vdb found=none wrote=first$/m,
    );
    // The first still runs: the second opens the same file beside it.
    const second = await stamped("hostdisk-share-2", "second", { shareable: true });
    expect(second.code, second.stderr).toBe(0);
    expect(await consoleUntil(cli, "hostdisk-share-2", "headroom-guest: stamp ")).toMatch(
      /^headroom-guest: stamp dev=vdb found=first wrote=second$/m,
    );
    const listed = await headroom([...cli, "get", "vmi", "hostdisk-share-1", "-o", "json"]);
    expect(JSON.parse(listed.stdout).status.phase).toBe("Running");

    // Without shareable, QEMU's lock keeps a third guest from writing it too.
    const third = await stamped("hostdisk-share-3", "third", {});
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/lock/i);
    for (const name of ["hostdisk-share-1", "hostdisk-share-2", "hostdisk-share-3"]) {
      const deleted = await headroom([...cli, "delete", "vmi", name, "--wait"]);
      expect(deleted.code, deleted.stderr).toBe(0);
    }
  }, 300_000);

  it("fails a Disk whose file does not exist", async () => {
    const vmi = await withHostDisk("hostdisk-missing", {
      path: join(allowed, "none.img"),
      type: "Disk",
    });
    const apply = await applyAndWait(cli, stack.stateDir, "hostdisk-missing", vmi);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain("does not exist (type Disk takes a file that exists");
  }, 120_000);
});
