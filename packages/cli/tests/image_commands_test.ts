// image add, get images and delete image through NATS, and a VMI booting from
// an uploaded image: a real nats-server under headroom.conf, the three
// services, libvirtd and QEMU (TCG). The CLI has a state directory of its
// own, apart from the services', holding nothing but its login: everything
// it shows comes over NATS.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, symlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openImageStore, TINY_GUEST_REF } from "@headroom/images";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { consoleUntil, headroom, repoRoot, start } from "./run.ts";

const execFileAsync = promisify(execFile);

const namespace = testNamespace();
const cliStack = useCliStack({ namespace });
const { stack, cli } = cliStack;
const UPLOADED = "test/uploaded-guest:1";
const name = "from-upload";
let guestTree = "";

beforeAll(async () => {
  guestTree = (await openImageStore(stack.state.images).resolve(TINY_GUEST_REF)).root;
});

function hc(args: string[]) {
  return headroom([...cli, ...args]);
}

async function imagesJson(): Promise<Array<Record<string, unknown>>> {
  const run = await hc(["get", "images", "-o", "json"]);
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout).items;
}

/** The seed VMI booting kernel and disk from the uploaded image. */
async function manifestFile(vmiName: string): Promise<string> {
  const vmi = await stack.seedManifest(vmiName);
  vmi.spec.volumes[0].containerDisk.image = UPLOADED;
  vmi.spec.domain.firmware.kernelBoot.container.image = UPLOADED;
  const path = join(cliStack.cliState, `${vmiName}.yaml`);
  await writeFile(path, stringify(vmi));
  return path;
}

describe("images through NATS, from a CLI with only its login", () => {
  it("uploads the tiny guest into the image store", async () => {
    const add = await hc(["image", "add", UPLOADED, guestTree]);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(
      /^image\/test\/uploaded-guest:1 added to headroom's image store \(\d+ files, [\d.]+MiB\)\n$/,
    );
    const images = await imagesJson();
    expect(images.find((image) => image.ref === UPLOADED)).toMatchObject({
      inStore: true,
      digest: expect.stringMatching(/^SHA-256=/),
      hosts: [],
    });
    // Built on the host for the tests, not uploaded: listed, marked so.
    expect(images.find((image) => image.ref === TINY_GUEST_REF)).toMatchObject({
      inStore: false,
      fromRegistry: false,
      hosts: [hostname()],
    });
  });

  it("boots a VMI from it: the host fetches it, the guest reports through logs", async () => {
    const apply = await hc(["apply", "-f", await manifestFile(name), "--wait"]);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);
    const follow = start([...cli, "logs", name, "-f"]);
    await follow.waitForOutput("headroom-guest: nics=2 ", 120_000);
    follow.child.kill("SIGINT");
    expect((await follow.done).code).toBe(0);

    const uploaded = (await imagesJson()).find((image) => image.ref === UPLOADED);
    expect(uploaded?.hosts).toEqual([hostname()]);
    const table = await hc(["get", "images"]);
    expect(table.stdout).toMatch(/^test\/uploaded-guest:1 +[\d.]+MiB +\d+s +\S+$/m);
    const held = await openImageStore(stack.state.images).resolve(UPLOADED);
    expect(held.digest).toBe(uploaded?.digest);

    for (const command of [
      ["describe", "vmi", name],
      ["events", "--vmi", name],
      ["get", "vmi", name],
    ]) {
      const run = await hc(command);
      expect(run.stderr, command.join(" ")).toBe("");
      expect(run.code, command.join(" ")).toBe(0);
    }
  });

  it("keeps a VMI's disk when its image is replaced: the domain starts again after the old copy went", async () => {
    const before = await openImageStore(stack.state.images).resolve(UPLOADED);
    const v2 = join(cliStack.cliState, "guest-v2");
    await cp(guestTree, v2, { recursive: true });
    await writeFile(join(v2, "v2.txt"), "the second upload\n");
    const add = await hc(["image", "add", UPLOADED, v2]);
    expect(add.code, add.stderr).toBe(0);
    // A second VMI makes the host fetch the new upload, which replaces the first one's copy.
    const second = await hc(["apply", "-f", await manifestFile("second"), "--wait"]);
    expect(second.code, second.stderr).toBe(0);
    const after = await openImageStore(stack.state.images).resolve(UPLOADED);
    expect(after.files).toBe(before.files + 1);
    expect(existsSync(before.path)).toBe(false);
    // The first VMI's domain, stopped and started as after a host's reboot, still has its disk.
    const domain = `${namespace}_${name}`;
    await virsh("destroy", domain);
    await virsh("start", domain);
    const follow = start([...cli, "logs", name, "-f", "--tail", "0"]);
    await follow.waitForOutput("headroom-guest: nics=2 ", 120_000);
    follow.child.kill("SIGINT");
    expect((await follow.done).code).toBe(0);
  });

  it("refuses to delete an image a VMI boots from (exit 1)", async () => {
    const del = await hc(["delete", "image", UPLOADED]);
    expect(del.code).toBe(1);
    expect(del.stderr).toBe(
      `headroom: image ${UPLOADED} is used by vmi ${namespace}/${name}, ${namespace}/second; delete them first\n`,
    );
    expect((await imagesJson()).some((image) => image.ref === UPLOADED)).toBe(true);
  });

  it("deletes it once no VMI uses it; a VMI asking for it again fails saying so", async () => {
    for (const vmi of [name, "second"]) {
      const deleted = await hc(["delete", "vmi", vmi, "--wait"]);
      expect(deleted.code, deleted.stderr).toBe(0);
    }
    const del = await hc(["delete", "image", UPLOADED]);
    expect(del.stderr).toBe("");
    expect(del.code).toBe(0);
    expect(del.stdout).toBe(`image/${UPLOADED} deleted\n`);
    const again = await hc(["delete", "image", UPLOADED]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`headroom: image/${UPLOADED} not found\n`);
    // The host keeps its copy, shown as deleted; VMIs no longer get it.
    const table = await hc(["get", "images"]);
    expect(table.stdout).toMatch(/^test\/uploaded-guest:1 .* \(deleted from the image store\)$/m);
    const apply = await hc(["apply", "-f", await manifestFile("after-delete"), "--wait"]);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(
      `image ${UPLOADED} was deleted from headroom's image store; add it with: headroom image add ${UPLOADED} PATH`,
    );
  });

  it("boots a containerDisk's path: the disk file it names in the image, not the first under /disk/", async () => {
    const ref = "test/two-disks:1";
    const tree = join(cliStack.cliState, "two-disks");
    await cp(guestTree, tree, { recursive: true });
    await mkdir(join(tree, "custom"));
    await execFileAsync("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      join(tree, "custom", "data.qcow2"),
      "40M",
    ]);
    const add = await hc(["image", "add", ref, tree]);
    expect(add.code, add.stderr).toBe(0);
    const manifest = async (vmiName: string, path: string) => {
      const vmi = await stack.seedManifest(vmiName);
      vmi.spec.volumes[0].containerDisk.image = ref;
      vmi.spec.domain.firmware.kernelBoot.container.image = ref;
      vmi.spec.volumes.push({ name: "data", containerDisk: { image: ref, path } });
      const file = join(cliStack.cliState, `${vmiName}.yaml`);
      await writeFile(file, stringify(vmi));
      return file;
    };
    const apply = await hc([
      "apply",
      "-f",
      await manifest("by-path", "/custom/data.qcow2"),
      "--wait",
    ]);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);
    // The image's /disk/ file (48 MiB) as vda, the named one (40 MiB) as vdb.
    const booted = await consoleUntil(cli, "by-path", "headroom-guest: disks ");
    expect(booted).toMatch(/^headroom-guest: disks vda=50331648,vdb=41943040$/m);
    const missing = await hc([
      "apply",
      "-f",
      await manifest("no-file", "/custom/none.qcow2"),
      "--wait",
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("/custom/none.qcow2");
    for (const vmi of ["by-path", "no-file"]) {
      const deleted = await hc(["delete", "vmi", vmi, "--wait"]);
      expect(deleted.code, deleted.stderr).toBe(0);
    }
  });

  it("refuses a source with a symbolic link, or none, before sending anything (exit 2)", async () => {
    const tree = join(cliStack.cliState, "linked");
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, "a.txt"), "a");
    await symlink("/etc/passwd", join(tree, "passwd"));
    const linked = await hc(["image", "add", "test/linked", tree]);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toBe(
      `headroom: ${join(tree, "passwd")} is a symbolic link; images hold only files and folders\n`,
    );
    const none = await hc(["image", "add", "test/none", join(cliStack.cliState, "nope")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      `headroom: source ${join(cliStack.cliState, "nope")} does not exist\n`,
    );
    const refs = (await imagesJson()).map((image) => image.ref);
    expect(refs).not.toContain("test/linked");
    expect(refs).not.toContain("test/none");
  });

  it("draws a progress bar on a terminal", async () => {
    const file = join(cliStack.cliState, "blob.bin");
    await writeFile(file, Buffer.alloc(8 * 1024 * 1024, 1));
    const command = [process.execPath, join("packages", "cli", "bin", "headroom.js"), ...cli]
      .concat(["image", "add", "test/blob", file])
      .map((word) => `'${word}'`)
      .join(" ");
    // script(1) gives the CLI a terminal, as a user's shell does.
    const { stdout: run } = await execFileAsync("script", ["-qec", command, "/dev/null"], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    // What the terminal shows once its control sequences are acted on.
    const controls = new RegExp(`${String.fromCharCode(27)}(?:\\[[0-9;?]*[A-Za-z]|[78])`, "g");
    const shown = run.replace(controls, "");
    expect(shown).toMatch(/uploading test\/blob \[=+\] 100% [\d.]+MiB of 8MiB/);
    expect(shown).toContain("image/test/blob added to headroom's image store (1 file, 8MiB)");
  });
});
