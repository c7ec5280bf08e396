import { describe, expect, it } from "vitest";
import {
  formatPciAddress,
  interfaceXmlByAlias,
  parsePciAddress,
  pinInterface,
  readTopology,
} from "../src/mod.ts";

const domain = `<domain type='kvm'><name>a</name><os><type machine='pc-q35-7.2'>hvm</type></os><devices>
  <interface type='user'><mac address='52:54:00:aa:bb:cc'/><model type='virtio-non-transitional'/><alias name='ua-net-default'/>
    <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>
  <interface type='bridge'><source bridge='br0'/><model type='virtio-non-transitional'/><alias name='ua-net-second'/></interface>
</devices></domain>`;

describe("interfaceXmlByAlias", () => {
  it("finds the interface by its alias", () => {
    const xml = interfaceXmlByAlias(domain, "ua-net-second");
    expect(xml).toContain('<source bridge="br0"/>');
    expect(xml?.startsWith("<interface")).toBe(true);
  });

  it("returns undefined for an alias that is not there", () => {
    expect(interfaceXmlByAlias(domain, "ua-net-missing")).toBeUndefined();
  });
});

describe("pinInterface", () => {
  it("replaces the MAC and address with where the live attach put the NIC", () => {
    const iface = interfaceXmlByAlias(domain, "ua-net-default") as string;
    const pinned = pinInterface(iface, { mac: "52:54:00:11:22:33", pciAddress: "0000:0a:00.0" });
    expect(pinned).toContain('<mac address="52:54:00:11:22:33"/>');
    expect(pinned).not.toContain("aa:bb:cc");
    expect(pinned).toContain('bus="0x0a"');
    expect(pinned.match(/<address /g)).toHaveLength(1);
    // Read back inside a domain, it lands on bus 10.
    const again = readTopology(
      domain.replace(/<interface type='user'>[\s\S]*?<\/interface>/, pinned),
    );
    expect(again.devices.some((d) => d.address.bus === 10)).toBe(true);
  });

  it("refuses what is not an interface or an address that is not one", () => {
    expect(() =>
      pinInterface("<disk/>", { mac: "52:54:00:11:22:33", pciAddress: "0000:01:00.0" }),
    ).toThrow(/<interface>/);
    expect(() =>
      pinInterface("<interface type='user'/>", { mac: "52:54:00:11:22:33", pciAddress: "bus 3" }),
    ).toThrow(/PCI address/);
  });
});

describe("parsePciAddress", () => {
  it("is the inverse of formatPciAddress", () => {
    const a = { domain: 0, bus: 0x1f, slot: 3, function: 7 };
    expect(parsePciAddress(formatPciAddress(a))).toEqual(a);
  });
});
