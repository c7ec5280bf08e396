import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Connection,
  type DeviceAddedEvent,
  type DeviceRemovedEvent,
  type DomainEvent,
  ErrorCode,
  LibvirtError,
} from "../src/mod.ts";
import {
  buildTinyGuest,
  buildXml,
  DomainJanitor,
  domainXml,
  EventRecorder,
  elements,
  parseXml,
  USER_NIC_XML,
  uniqueName,
  waitForGuest,
} from "./helpers.ts";

const janitor = new DomainJanitor();
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.open();
});

afterAll(async () => {
  await janitor.cleanUp();
  await connection?.close();
});

function deviceEvent<K extends "device-added" | "device-removed">(kind: K, alias?: string) {
  return (event: DomainEvent): event is Extract<DomainEvent, { kind: K }> =>
    event.kind === kind && (alias === undefined || ("alias" in event && event.alias === alias));
}

describe("NIC hotplug on a booted guest", () => {
  it("defines, reads back, starts, attaches, detaches with events, destroys and undefines", async () => {
    const guest = buildTinyGuest();
    const name = janitor.track(uniqueName("hotplug"));
    try {
      const domain = await connection.defineXml(domainXml(name, guest.boot), { validate: true });
      const recorder = new EventRecorder();
      const unsubscribe = await connection.onDomainEvent(recorder.listener, { domain });

      // libvirt completed the definition: q35 root ports, and the boot we asked for.
      const defined = parseXml(await domain.getXmlDesc({ inactive: true }));
      expect(elements(defined, "name")[0]?.textContent).toBe(name);
      expect(elements(defined, "uuid")[0]?.textContent).toBe(domain.uuid);
      expect(elements(defined, "kernel")[0]?.textContent).toBe(guest.boot.kernel);
      const rootPorts = elements(defined, "controller").filter(
        (controller) => controller.getAttribute("model") === "pcie-root-port",
      );
      expect(rootPorts.length).toBeGreaterThanOrEqual(1);

      await domain.create();
      expect(await domain.getState()).toMatchObject({ state: "running", reason: "booted" });
      await waitForGuest(guest.boot.consoleLog);

      await domain.attachDevice(USER_NIC_XML, { live: true });
      const added: DeviceAddedEvent = await recorder.waitFor(
        deviceEvent("device-added"),
        "device-added",
      );
      expect(added.domain).toEqual({ name, uuid: domain.uuid });
      expect(added.alias).toMatch(/^net\d+$/);
      const live = parseXml(await domain.getXmlDesc());
      expect(
        elements(live, "interface").map((nic) => elements(nic, "alias")[0]?.getAttribute("name")),
      ).toEqual([added.alias]);

      // The guest's pciehp/acpiphp acknowledges the unplug request.
      const beforeDetach = recorder.mark();
      await domain.detachDeviceAlias(added.alias, { live: true });
      const removed: DeviceRemovedEvent = await recorder.waitFor(
        deviceEvent("device-removed", added.alias),
        "device-removed",
        { since: beforeDetach },
      );
      expect(removed.domain.uuid).toBe(domain.uuid);
      expect(elements(parseXml(await domain.getXmlDesc()), "interface")).toHaveLength(0);

      // Detach by XML too: attach again, detach the device as libvirt reports it.
      const beforeSecond = recorder.mark();
      await domain.attachDevice(USER_NIC_XML, { live: true });
      const second = await recorder.waitFor(deviceEvent("device-added"), "second device-added", {
        since: beforeSecond,
      });
      const nic = elements(parseXml(await domain.getXmlDesc()), "interface")[0];
      const mac = nic === undefined ? undefined : elements(nic, "mac")[0]?.getAttribute("address");
      expect(mac).toMatch(/^52:54:00:/);
      const nicXml = buildXml([
        "interface",
        { type: "user" },
        ["mac", { address: String(mac) }],
        ["model", { type: "virtio" }],
      ]);
      await domain.detachDevice(nicXml, { live: true });
      await recorder.waitFor(deviceEvent("device-removed", second.alias), "second device-removed", {
        since: beforeSecond,
      });

      await domain.destroy();
      expect(await domain.getState()).toMatchObject({ state: "shutoff", reason: "destroyed" });
      await domain.undefine();
      await unsubscribe();
      await expect(connection.lookupByName(name)).rejects.toMatchObject({
        code: ErrorCode.NO_DOMAIN,
      });
      domain.free();
    } finally {
      await janitor.cleanUp();
      guest.remove();
    }
  });

  it("rejects an attach past the free PCIe slots with a LibvirtError (VIR_ERR_INTERNAL_ERROR)", async () => {
    const name = janitor.track(uniqueName("slots"));
    const domain = await connection.defineXml(domainXml(name));
    try {
      // No guest OS is needed to plug: QEMU takes the device while in firmware.
      await domain.create({ paused: true });
      const failures: LibvirtError[] = [];
      let attached = 0;
      // q35 gets one spare root port per definition; a few tries must run out.
      for (let attempt = 0; attempt < 4 && failures.length === 0; attempt++) {
        try {
          await domain.attachDevice(USER_NIC_XML, { live: true });
          attached++;
        } catch (error) {
          if (!(error instanceof LibvirtError)) throw error;
          failures.push(error);
        }
      }
      expect(attached).toBeGreaterThanOrEqual(1);
      const [failure] = failures;
      expect(failure).toBeInstanceOf(LibvirtError);
      expect(failure?.code).toBe(ErrorCode.INTERNAL_ERROR);
      expect(failure?.codeName).toBe("VIR_ERR_INTERNAL_ERROR");
      expect(failure?.message).toMatch(/No more available PCI slots/);

      // A plugged NIC can still be changed in place: take its link down.
      const nic = elements(parseXml(await domain.getXmlDesc()), "interface")[0];
      const mac = nic === undefined ? undefined : elements(nic, "mac")[0]?.getAttribute("address");
      await domain.updateDevice(
        buildXml([
          "interface",
          { type: "user" },
          ["mac", { address: String(mac) }],
          ["model", { type: "virtio" }],
          ["link", { state: "down" }],
        ]),
        { live: true },
      );
      const updated = elements(parseXml(await domain.getXmlDesc()), "interface")[0];
      expect(
        updated === undefined ? undefined : elements(updated, "link")[0]?.getAttribute("state"),
      ).toBe("down");
    } finally {
      await janitor.cleanUp();
    }
  });
});
