// Boots the tiny test guest for real (libvirt qemu:///system, QEMU under TCG),
// hot-plugs a third NIC, unplugs it, and checks every step from inside the
// guest through its serial console. Proves the guest acknowledges PCI hotplug
// and unplug on q35 (PCIe root ports; ACPI hotplug, QEMU's default since 6.1),
// on q35 with native PCIe hotplug (pciehp; machine pc-q35-6.0, as older
// machine types have it), and on pc (i440fx, ACPI hotplug on pci.0).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DOMImplementation, type Element, XMLSerializer } from "@xmldom/xmldom";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertQemuCanRead,
  type ImageStore,
  openImageStore,
  parseGuestBanner,
  TINY_GUEST_CMDLINE,
  TINY_GUEST_REF,
  waitForGuestReport,
} from "../src/mod.ts";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const URI = "qemu:///system";

const virsh = (...args: string[]) => run("virsh", ["-c", URI, ...args]);

let work: string;
let stateDir: string;
let store: ImageStore;
const defined = new Set<string>();

beforeAll(async () => {
  // libvirtd and virtlogd are started by hand on hosts without systemd.
  await virsh("version").catch(() => run("bash", [join(repoRoot, "infra/daemons.sh"), "--quiet"]));
  work = await mkdtemp(join(tmpdir(), "headroom-tiny-guest-"));
  // mkdtemp makes 0700 directories; QEMU (libvirt-qemu) must traverse to the kernel.
  await chmod(work, 0o755);
  stateDir = join(work, "state");
  const env = { ...process.env, HEADROOM_STATE_DIR: stateDir };
  await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh"), "--quiet"], { env });
  store = openImageStore(join(stateDir, "images"));
}, 300_000);

afterAll(async () => {
  for (const name of defined) await destroyAndUndefine(name);
  if (work) await rm(work, { recursive: true, force: true });
});

async function destroyAndUndefine(name: string): Promise<void> {
  await virsh("destroy", name).catch(() => undefined);
  await virsh("undefine", name).catch(() => undefined);
  defined.delete(name);
}

describe("infra/tiny-guest/build.sh", () => {
  it("stores the guest and does nothing when run again", async () => {
    const images = await store.list();
    expect(images.map((image) => image.ref)).toEqual([TINY_GUEST_REF]);
    const { root } = await store.resolve(TINY_GUEST_REF);
    const buildId = (await readFile(join(root, "headroom-build-id"), "utf8")).trim();
    expect(buildId).toMatch(/^[0-9a-f]{32}$/);
    for (const path of ["/boot/vmlinuz", "/boot/initrd.img", "/disk/disk.qcow2"]) {
      await expect(store.resolveFile(TINY_GUEST_REF, path)).resolves.toContain(root);
    }

    const env = { ...process.env, HEADROOM_STATE_DIR: stateDir };
    const again = await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh")], { env });
    expect(again.stdout).toContain(`${TINY_GUEST_REF} is up to date in the image store`);
    expect((await store.resolve(TINY_GUEST_REF)).root).toBe(root);
  });
});

/** Builds libvirt XML with a DOM, never by pasting strings. */
function xml(
  build: (
    el: (name: string, attrs?: Record<string, string>, ...kids: (Element | string)[]) => Element,
  ) => Element,
): string {
  const doc = new DOMImplementation().createDocument(null, "scratch", null);
  const el = (name: string, attrs: Record<string, string> = {}, ...kids: (Element | string)[]) => {
    const node = doc.createElement(name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    for (const kid of kids)
      node.appendChild(typeof kid === "string" ? doc.createTextNode(kid) : kid);
    return node;
  };
  return new XMLSerializer().serializeToString(build(el));
}

function nicXml(mac: string): string {
  return xml((el) =>
    el(
      "interface",
      { type: "user" },
      el("mac", { address: mac }),
      el("model", { type: "virtio-non-transitional" }),
    ),
  );
}

async function interfacesInLiveXml(name: string): Promise<number> {
  const { stdout } = await virsh("dumpxml", name);
  return (stdout.match(/<interface /g) ?? []).length;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

const machines = [
  { machine: "q35", hotplug: "acpi" },
  { machine: "pc-q35-6.0", hotplug: "native PCIe" },
  { machine: "pc", hotplug: "acpi" },
] as const;

describe.each(machines)(
  "tiny guest on machine $machine ($hotplug hotplug, TCG)",
  ({ machine, hotplug }) => {
    it("sees 2 NICs, a hot-plugged third, and the third gone after unplug", async () => {
      const name = `hrtest-img-${machine.replaceAll(".", "-")}-${Math.random().toString(36).slice(2, 8)}`;
      const dir = await mkdtemp(join(work, `${machine}-`));
      await chmod(dir, 0o755);
      const consolePath = join(dir, "console.log");
      const kernel = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
      const initrd = await store.resolveFile(TINY_GUEST_REF, "/boot/initrd.img");
      await assertQemuCanRead(kernel);
      await assertQemuCanRead(initrd);
      const overlay = await store.createOverlay(TINY_GUEST_REF, join(dir, "disk.qcow2"));
      const backingBefore = await sha256(overlay.backingPath);

      const domainXml = xml((el) =>
        el(
          "domain",
          { type: "qemu" },
          el("name", {}, name),
          el("memory", { unit: "MiB" }, "128"),
          el("vcpu", {}, "1"),
          el(
            "os",
            {},
            el("type", { arch: "x86_64", machine }, "hvm"),
            el("kernel", {}, kernel),
            el("initrd", {}, initrd),
            el("cmdline", {}, TINY_GUEST_CMDLINE),
          ),
          el("features", {}, el("acpi")),
          el("on_reboot", {}, "destroy"),
          el("on_crash", {}, "destroy"),
          el(
            "devices",
            {},
            el(
              "disk",
              { type: "file", device: "disk" },
              el("driver", { name: "qemu", type: "qcow2" }),
              el("source", { file: overlay.path }),
              el("target", { dev: "vda", bus: "virtio" }),
            ),
            el(
              "interface",
              { type: "user" },
              el("mac", { address: "52:54:00:00:00:01" }),
              el("model", { type: "virtio-non-transitional" }),
            ),
            el(
              "interface",
              { type: "user" },
              el("mac", { address: "52:54:00:00:00:02" }),
              el("model", { type: "virtio-non-transitional" }),
            ),
            // libvirt opens this file itself and hands QEMU the descriptor.
            el(
              "serial",
              { type: "file" },
              el("source", { path: consolePath }),
              el("target", { port: "0" }),
            ),
            el("memballoon", { model: "none" }),
          ),
        ),
      );
      const domainPath = join(dir, "domain.xml");
      await writeFile(domainPath, domainXml);
      const nicPath = join(dir, "nic3.xml");
      await writeFile(nicPath, nicXml("52:54:00:00:00:03"));

      defined.add(name);
      try {
        await virsh("define", domainPath);
        const startedAt = Date.now();
        await virsh("start", name);
        const booted = await waitForGuestReport(consolePath, () => true, { timeoutMs: 90_000 });
        const bootMs = Date.now() - startedAt;
        expect(booted.report.nics).toBe(2);
        expect(booted.report.pci).toHaveLength(2);
        expect(booted.report.ifaces).toEqual(["eth0", "eth1"]);
        const banner = parseGuestBanner(await readFile(consolePath, "utf8"));
        if (hotplug === "acpi") expect(banner?.pciehpPorts).toBe(0);
        else expect(banner?.pciehpPorts).toBeGreaterThan(0);

        const attachAt = Date.now();
        await virsh("attach-device", name, nicPath, "--live");
        // The PCI function shows up a moment before virtio_net has made eth2.
        const plugged = await waitForGuestReport(
          consolePath,
          (r) => r.nics === 3 && r.ifaces.length === 3,
          { after: booted.index },
        );
        const attachMs = Date.now() - attachAt;
        const added = plugged.report.pci.filter((address) => !booted.report.pci.includes(address));
        expect(added).toHaveLength(1);

        const detachAt = Date.now();
        const detach = await virsh("detach-device", name, nicPath, "--live");
        // libvirt drops the device from the live XML only once QEMU reports the
        // guest released it (DEVICE_DELETED): that is the unplug handshake.
        await waitFor(
          "libvirt to drop the unplugged NIC",
          async () => (await interfacesInLiveXml(name)) === 2,
        );
        const hostDetachMs = Date.now() - detachAt;
        const unplugged = await waitForGuestReport(
          consolePath,
          (r) => r.nics === 2 && r.ifaces.length === 2,
          { after: plugged.index },
        );
        const guestDetachMs = Date.now() - detachAt;
        expect(unplugged.report.pci).toEqual(booted.report.pci);

        console.log(
          `[tiny-guest ${machine}] first report ${bootMs} ms after start (guest uptime ${booted.report.uptimeSeconds} s); ` +
            `hotplug seen in guest after ${attachMs} ms at ${added[0]}; ` +
            `unplug: virsh said "${detach.stdout.trim()}", libvirt dropped it after ${hostDetachMs} ms, guest after ${guestDetachMs} ms`,
        );
      } finally {
        await destroyAndUndefine(name);
      }
      const { stdout } = await virsh("list", "--all", "--name");
      expect(stdout.split("\n")).not.toContain(name);
      // The shared disk in the store was never written and stays readable by QEMU.
      expect(await sha256(overlay.backingPath)).toBe(backingBefore);
      expect((await stat(overlay.backingPath)).mode & 0o777).toBe(0o644);
      await assertQemuCanRead(overlay.backingPath);
    }, 240_000);
  },
);
