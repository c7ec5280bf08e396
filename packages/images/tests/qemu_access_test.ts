import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { assertQemuCanRead, QemuAccessError } from "../src/mod.ts";

// Judged for users QEMU may run as: libvirt-qemu exists on Debian hosts with
// libvirt installed; an unknown user is judged by the "others" bits alone.
describe.each(["libvirt-qemu", "no-such-user-headroom"])("assertQemuCanRead as %s", (user) => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "headroom-access-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a file in a root-only directory, naming the directory and the fix", async () => {
    await mkdir(join(dir, "boot"));
    await writeFile(join(dir, "boot", "vmlinuz"), "kernel");
    await chmod(join(dir, "boot", "vmlinuz"), 0o644);
    await chmod(dir, 0o700);
    const error = await assertQemuCanRead(join(dir, "boot", "vmlinuz"), { user }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QemuAccessError);
    expect((error as Error).message).toBe(
      `QEMU runs as ${user} and cannot reach ${join(dir, "boot", "vmlinuz")}: directory ${dir} is mode 0700 owned by uid 0; fix with: chmod o+x ${dir} (or keep VM files in a directory such as /var/lib/headroom)`,
    );
    await chmod(dir, 0o755);
    await expect(
      assertQemuCanRead(join(dir, "boot", "vmlinuz"), { user }),
    ).resolves.toBeUndefined();
  });

  it("refuses a file only root can read", async () => {
    await chmod(dir, 0o755);
    await writeFile(join(dir, "initrd.img"), "initrd");
    await chmod(join(dir, "initrd.img"), 0o600);
    await expect(assertQemuCanRead(join(dir, "initrd.img"), { user })).rejects.toThrow(
      `cannot read ${join(dir, "initrd.img")}: it is mode 0600 owned by uid 0; fix with: chmod o+r`,
    );
  });

  it("says when the file does not exist", async () => {
    await expect(assertQemuCanRead(join(dir, "missing"), { user })).rejects.toThrow(
      `${join(dir, "missing")} does not exist`,
    );
  });
});
