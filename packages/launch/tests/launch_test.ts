// The launch sequence on the real thing: libvirtd, QEMU and the tiny guest,
// which reports from inside how many NICs it sees.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  addPlaceholders,
  composeDomain,
  type DomainSpec,
  type MachineFamily,
  pciAddressesOf,
  readTopology,
  stripPlaceholders,
  type VirtType,
} from "@headroom/domain-xml";
import {
  openImageStore,
  TINY_GUEST_CMDLINE,
  TINY_GUEST_REF,
  waitForGuestReport,
} from "@headroom/images";
import { Connection } from "@headroom/libvirt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseVirtType, launchDomain, removeDomain } from "../src/mod.ts";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const PREFIX = "hrtest-launch-";

let conn: Connection;
let virtType: VirtType;
let work: string;
let kernelPath: string;
let initrdPath: string;
const store = openImageStore();
const launched = new Set<string>();

beforeAll(async () => {
  await run("bash", [join(repoRoot, "infra/daemons.sh"), "--quiet"]);
  await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh"), "--quiet"]);
  conn = await Connection.open("qemu:///system");
  virtType = (await chooseVirtType(conn, store)).virtType;
  kernelPath = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
  initrdPath = await store.resolveFile(TINY_GUEST_REF, "/boot/initrd.img");
  work = await mkdtemp(join(tmpdir(), "headroom-launch-"));
  // QEMU runs as libvirt-qemu and must reach the overlay disks in here.
  await chmod(work, 0o755);
}, 300_000);

afterAll(async () => {
  for (const name of launched) {
    const domain = await conn.findDomain(name);
    if (domain) await removeDomain(domain);
  }
  await conn?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The seed's shape: one virtio disk from the image store and two NICs. */
async function seedLikeSpec(machine: MachineFamily): Promise<DomainSpec> {
  const name = `${PREFIX}${randomUUID().slice(0, 8)}`;
  launched.add(name);
  const overlay = await store.createOverlay(TINY_GUEST_REF, join(work, `${name}.qcow2`));
  return {
    name,
    uuid: randomUUID(),
    title: `test/${name}`,
    description: "headroom launch test",
    virtType,
    machine,
    vcpus: 1,
    memoryKiB: 128 * 1024,
    kernelBoot: { kernelPath, initrdPath, cmdline: TINY_GUEST_CMDLINE },
    disks: [{ name: "containerdisk", bus: "virtio", sourceFile: overlay.path, format: "qcow2" }],
    interfaces: [
      { name: "default", kind: "user", model: "virtio-non-transitional" },
      { name: "secondary", kind: "user", model: "virtio-non-transitional" },
    ],
    serialConsoleLogPath: join(work, `${name}.console.log`),
    rng: true,
  };
}

function launchOf(spec: DomainSpec, requested: number) {
  return launchDomain(conn, {
    domainName: spec.name,
    domainUuid: spec.uuid,
    baseXml: composeDomain(spec),
    placeholders: Math.max(0, requested - spec.interfaces.length),
    placeholderModel: "virtio-non-transitional",
  });
}

describe.each(["q35", "pc"] as const)("launchDomain on %s", (machine) => {
  it("starts the seed's VMI (2 NICs, request 5) with room for 3 more and no placeholder", async () => {
    const spec = await seedLikeSpec(machine);
    const result = await launchOf(spec, 5);
    expect(result.alreadyRunning).toBe(false);
    expect(await result.domain.isActive()).toBe(true);
    expect(stripPlaceholders(result.liveXml).removed).toBe(0);
    expect(stripPlaceholders(await result.domain.getXmlDesc({ inactive: true })).removed).toBe(0);
    expect(result.freeSlots.length).toBeGreaterThanOrEqual(3);
    expect(result.interfaces.map((i) => i.alias)).toEqual(["ua-net-default", "ua-net-secondary"]);
    // What the guest itself sees.
    const seen = await waitForGuestReport(spec.serialConsoleLogPath as string, () => true, {
      timeoutMs: 90_000,
    });
    expect(seen.report.nics).toBe(2);
    await removeDomain(result.domain);
    expect(await conn.findDomain(spec.name)).toBeUndefined();
  });

  it.each([0, 1, 32])(
    "request %i leaves at least max(0, request − 2) free slots",
    async (requested) => {
      const spec = await seedLikeSpec(machine);
      const result = await launchOf(spec, requested);
      expect(result.freeSlots.length).toBeGreaterThanOrEqual(Math.max(0, requested - 2));
      expect(stripPlaceholders(result.liveXml).removed).toBe(0);
      await removeDomain(result.domain);
    },
  );

  it("keeps every disk and NIC at the same PCI address for request 0 and request 32", async () => {
    const addresses: Record<string, string>[] = [];
    for (const requested of [0, 32]) {
      const spec = await seedLikeSpec(machine);
      const result = await launchOf(spec, requested);
      const all = pciAddressesOf(result.liveXml);
      addresses.push(
        Object.fromEntries(
          Object.entries(all).filter(
            ([id]) => id.startsWith("disk:") || id.startsWith("interface:"),
          ),
        ),
      );
      await removeDomain(result.domain);
    }
    expect(Object.keys(addresses[0] ?? {}).length).toBe(3);
    expect(addresses[1]).toEqual(addresses[0]);
  });
});

describe("launchDomain recovery", () => {
  it("takes a domain that already runs as planned as it is (a redelivered plan)", async () => {
    const spec = await seedLikeSpec("q35");
    const first = await launchOf(spec, 4);
    const again = await launchOf(spec, 4);
    expect(again.alreadyRunning).toBe(true);
    expect(again.freeSlots.length).toBe(first.freeSlots.length);
    await removeDomain(again.domain);
  });

  it("redoes a launch interrupted while the placeholders were still defined", async () => {
    const spec = await seedLikeSpec("q35");
    // What a launcher killed between its second and third define leaves behind.
    const base = await conn.defineXml(composeDomain(spec));
    const baseXml = await base.getXmlDesc({ inactive: true });
    await conn.defineXml(addPlaceholders(baseXml, 3, "virtio-non-transitional"));
    const result = await launchOf(spec, 5);
    expect(result.alreadyRunning).toBe(false);
    expect(stripPlaceholders(await result.domain.getXmlDesc({ inactive: true })).removed).toBe(0);
    expect(result.freeSlots.length).toBeGreaterThanOrEqual(3);
    await removeDomain(result.domain);
  });

  it("leaves no domain behind when the start fails", async () => {
    const spec = await seedLikeSpec("q35");
    spec.kernelBoot = { kernelPath: join(work, "no-such-kernel"), cmdline: "console=ttyS0" };
    await expect(launchOf(spec, 4)).rejects.toThrow(/^start: /);
    expect(await conn.findDomain(spec.name)).toBeUndefined();
  });

  it("counts the free slots from libvirt's own topology", async () => {
    const spec = await seedLikeSpec("q35");
    const result = await launchOf(spec, 8);
    const topology = readTopology(result.liveXml);
    const emptyPorts = topology.controllers.filter(
      (c) =>
        c.model === "pcie-root-port" &&
        c.hotplug &&
        !topology.devices.some((d) => d.address.bus === c.index),
    );
    expect(result.freeSlots.length).toBe(emptyPorts.length);
    // One root port per placeholder, less the spare port libvirt had already added.
    expect(result.controllersAdded).toBeGreaterThanOrEqual(8 - 2 - 1);
    await removeDomain(result.domain);
  });
});
