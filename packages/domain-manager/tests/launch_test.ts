// The launch sequence on the real thing: libvirtd, QEMU and the tiny guest,
// which reports from inside how many NICs it sees.
import { dirname, join } from "node:path";
import {
  addPlaceholders,
  composeDomain,
  ownerOf,
  pciAddressesOf,
  readTopology,
  stripPlaceholders,
  withOwner,
} from "@headroom/domain-xml";
import { waitForGuestReport } from "@headroom/images";
import { describe, expect, it } from "vitest";
import { ForeignDomainError, isHeadroomDomain, LaunchError, removeDomain } from "../src/mod.ts";
import { useGuestHost } from "./guest_host.ts";

const host = useGuestHost("hrtest-launch-");
const seedLikeSpec = (machine: "q35" | "pc") => host.seedLikeSpec(machine);
const launchOf = host.launch;

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
    expect(await host.conn.findDomain(spec.name)).toBeUndefined();
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
    // What a launcher killed between its second and third define leaves behind
    // (its first define already carried headroom's mark).
    const base = await host.conn.defineXml(withOwner(composeDomain(spec), spec.uuid));
    const baseXml = await base.getXmlDesc({ inactive: true });
    await host.conn.defineXml(addPlaceholders(baseXml, 3, "virtio-non-transitional"));
    const result = await launchOf(spec, 5);
    expect(result.alreadyRunning).toBe(false);
    expect(stripPlaceholders(await result.domain.getXmlDesc({ inactive: true })).removed).toBe(0);
    expect(result.freeSlots.length).toBeGreaterThanOrEqual(3);
    await removeDomain(result.domain);
  });

  it("refuses a domain of that name headroom did not define, and leaves it as it was", async () => {
    const spec = await seedLikeSpec("q35");
    const foreign = await host.conn.defineXml(composeDomain(spec));
    const before = await foreign.getXmlDesc({ inactive: true });
    await expect(launchOf(spec, 4)).rejects.toThrow(ForeignDomainError);
    await expect(launchOf(spec, 4)).rejects.toThrow(
      `a domain named ${spec.name} already exists on this host and was not defined by headroom`,
    );
    const after = await host.conn.findDomain(spec.name);
    expect(await after?.getXmlDesc({ inactive: true })).toBe(before);
    expect(await isHeadroomDomain(foreign)).toBe(false);
    await foreign.undefine();
  });

  it("marks what it defines with the VMI's uid", async () => {
    const spec = await seedLikeSpec("q35");
    const result = await launchOf(spec, 2, { start: false });
    expect(await isHeadroomDomain(result.domain)).toBe(true);
    expect(ownerOf(await result.domain.getXmlDesc({ inactive: true }))).toBe(
      spec.uuid.toLowerCase(),
    );
    await removeDomain(result.domain);
  });

  it("leaves no domain behind when the start fails", async () => {
    const spec = await seedLikeSpec("q35");
    spec.kernelBoot = {
      kernelPath: join(dirname(spec.disks[0]?.sourceFile ?? "/"), "no-such-kernel"),
    };
    await expect(launchOf(spec, 4)).rejects.toThrow(/^start: /);
    expect(await host.conn.findDomain(spec.name)).toBeUndefined();
  });

  it("defines the domain while the host is made ready, and starts it only once it is", async () => {
    const spec = await seedLikeSpec("q35");
    let ready: () => void = () => {};
    const hostReady = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const launching = launchOf(spec, 4, { hostReady });
    let domain = await host.conn.findDomain(spec.name);
    for (let tries = 0; !domain && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      domain = await host.conn.findDomain(spec.name);
    }
    expect(domain, "defined while the host is made ready").toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await domain?.isActive()).toBe(false);
    ready();
    const launched = await launching;
    expect(await launched.domain.isActive()).toBe(true);
    await removeDomain(launched.domain);
  });

  it("leaves no domain behind when the host cannot be made ready", async () => {
    const spec = await seedLikeSpec("q35");
    const hostReady = Promise.reject(new LaunchError("prepare disk x.qcow2", new Error("no room")));
    hostReady.catch(() => {}); // awaited by the launch, after its defines
    await expect(launchOf(spec, 4, { hostReady })).rejects.toThrow(/^prepare disk x.qcow2: /);
    expect(await host.conn.findDomain(spec.name)).toBeUndefined();
  });

  it("with start: false defines the domain with its room and leaves it shut off", async () => {
    const spec = await seedLikeSpec("q35");
    const defined = await launchOf(spec, 8, { start: false });
    expect(await defined.domain.isActive()).toBe(false);
    expect(defined.alreadyRunning).toBe(false);
    expect(stripPlaceholders(await defined.domain.getXmlDesc({ inactive: true })).removed).toBe(0);
    expect(defined.freeSlots.length).toBeGreaterThanOrEqual(8 - 2);
    expect(defined.controllersAdded).toBeGreaterThanOrEqual(8 - 2 - 1);
    expect(defined.interfaces.map((i) => i.alias)).toEqual(["ua-net-default", "ua-net-secondary"]);
    // Started later, it offers the room the define reported.
    await defined.domain.create();
    const running = await launchOf(spec, 8);
    expect(running.alreadyRunning).toBe(true);
    expect(running.freeSlots.length).toBe(defined.freeSlots.length);
    await removeDomain(running.domain);
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
