import { describe, expect, it } from "vitest";
import {
  controllersAdded,
  DomainXmlError,
  formatPciAddress,
  freeHotplugSlots,
  type HotplugSlot,
  interfacesOf,
  machineFamily,
  pciAddressesOf,
  placeholderCount,
  protectNonNicRootPorts,
  readTopology,
  stripPlaceholders,
} from "../src/mod.ts";
import { child, children, elementCounts, fixture, parse } from "./helpers.ts";

function byController(slots: HotplugSlot[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of slots) out[s.controller] = (out[s.controller] ?? 0) + 1;
  return out;
}

describe("machineFamily", () => {
  it.each([
    ["q35", "q35"],
    ["pc-q35-7.2", "q35"],
    ["pc", "pc"],
    ["pc-i440fx-7.2", "pc"],
    ["pc-1.0", "pc"],
  ])("%s → %s", (type, family) => expect(machineFamily(type)).toBe(family));

  it("refuses other machines", () => {
    expect(() => machineFamily("microvm")).toThrow("neither q35 nor pc");
  });
});

describe("readTopology on libvirt 9 read-back XML", () => {
  it("q35 defined: pcie-root plus one root port per PCIe device and one spare", () => {
    const t = readTopology(fixture("q35-defined.xml"));
    expect(t.machine).toBe("q35");
    expect(t.machineType).toBe("pc-q35-7.2");
    expect(t.acpi).toBe(true);
    expect(t.controllers.map((c) => c.model)).toEqual([
      "pcie-root",
      ...Array(6).fill("pcie-root-port"),
    ]);
    expect(t.controllers[3]).toEqual({
      index: 3,
      model: "pcie-root-port",
      hotplug: true,
      address: { domain: 0, bus: 0, slot: 1, function: 2 },
    });
    const onPorts = t.devices.filter((d) => d.address.bus !== 0);
    expect(onPorts.map((d) => [d.identity, d.address.bus])).toEqual([
      ["disk:vda", 3],
      ["interface:ua-net-default", 1],
      ["interface:ua-net-secondary", 2],
      ["memballoon#0", 4],
      ["rng#0", 5],
    ]);
    expect(t.devices.find((d) => d.identity === "disk:vda")?.alias).toBe("ua-disk-rootdisk");
    expect(t.devices.find((d) => d.identity === "controller:sata:0")?.address).toEqual({
      domain: 0,
      bus: 0,
      slot: 31,
      function: 2,
    });
  });

  it("pc defined: only pci-root; devices sit on bus 0", () => {
    const t = readTopology(fixture("pc-defined.xml"));
    expect(t.machine).toBe("pc");
    expect(t.machineType).toBe("pc-i440fx-7.2");
    expect(t.controllers).toEqual([{ index: 0, model: "pci-root", hotplug: true }]);
    expect(t.devices.map((d) => `${d.identity}@${d.address.slot}`)).toEqual([
      "disk:vda@4",
      "interface:ua-net-default@2",
      "interface:ua-net-secondary@3",
      "memballoon#0@5",
      "rng#0@6",
    ]);
  });

  it("flags placeholders", () => {
    const t = readTopology(fixture("q35-placeholders-4.xml"));
    expect(t.devices.filter((d) => d.placeholder).map((d) => d.address.bus)).toEqual([6, 7, 8, 9]);
  });

  it("reads decimal addresses and a missing domain/function as libvirt does", () => {
    const xml =
      "<domain><os><type machine='q35'>hvm</type></os><devices><rng model='virtio'><address type='pci' bus='3' slot='0'/></rng><disk><target dev='vdz'/><source><address type='pci' bus='0x09' slot='0'/></source></disk></devices></domain>";
    const t = readTopology(xml);
    expect(t.acpi).toBe(false);
    // A host address under <source> is not the guest address.
    expect(t.devices).toEqual([
      {
        kind: "rng",
        identity: "rng#0",
        address: { domain: 0, bus: 3, slot: 0, function: 0 },
        placeholder: false,
      },
    ]);
  });

  it("refuses XML it cannot read, saying why", () => {
    expect(() => readTopology("<domain><devices/></domain>")).toThrow("no <os><type machine=");
    expect(() => readTopology("<domain><os><type machine='q35'/></os></domain>")).toThrow(
      "no <devices>",
    );
    expect(() =>
      readTopology(
        "<domain><os><type machine='q35'/></os><devices><rng><address type='pci' bus='zz' slot='0'/></rng></devices></domain>",
      ),
    ).toThrow("unreadable bus='zz'");
    expect(() => readTopology("<domain><os>")).toThrow(DomainXmlError);
    expect(() => readTopology("<domain><a></b></domain>")).toThrow(
      /^domain XML is not well-formed: Opening and ending tag mismatch: "a" != "b"$/,
    );
    expect(() => readTopology("<domain>&x;</domain>")).toThrow(
      /^domain XML is not well-formed: entity not found:&x;$/,
    );
  });
});

describe("freeHotplugSlots", () => {
  it("q35: empty hot-pluggable root ports", () => {
    expect(freeHotplugSlots(readTopology(fixture("q35-defined.xml")))).toEqual([
      { bus: 6, slot: 0, controller: "pcie-root-port" },
    ]);
    // While placeholders are present their ports are taken.
    expect(freeHotplugSlots(readTopology(fixture("q35-placeholders-4.xml")))).toEqual([]);
    expect(freeHotplugSlots(readTopology(fixture("q35-stripped-4.xml"))).map((s) => s.bus)).toEqual(
      [6, 7, 8, 9],
    );
    expect(byController(freeHotplugSlots(readTopology(fixture("q35-stripped-32.xml"))))).toEqual({
      "pcie-root-port": 32,
    });
  });

  it("q35: a port with hotplug off is not free", () => {
    const xml = fixture("q35-stripped-4.xml").replace(
      "<target chassis='7' port='0xe'/>",
      "<target chassis='7' port='0xe' hotplug='off'/>",
    );
    expect(freeHotplugSlots(readTopology(xml)).map((s) => s.bus)).toEqual([6, 8, 9]);
  });

  it("q35: counts empty switch downstream ports, not the switch's upstream port", () => {
    const xml = `<domain><os><type machine='pc-q35-7.2'/></os><devices>
      <controller type='pci' index='0' model='pcie-root'/>
      <controller type='pci' index='1' model='pcie-root-port'><address type='pci' bus='0x00' slot='0x01'/></controller>
      <controller type='pci' index='2' model='pcie-switch-upstream-port'><address type='pci' bus='0x01' slot='0x00'/></controller>
      <controller type='pci' index='3' model='pcie-switch-downstream-port'><address type='pci' bus='0x02' slot='0x00'/></controller>
      <controller type='pci' index='4' model='pcie-switch-downstream-port'><address type='pci' bus='0x02' slot='0x01'/></controller>
      <disk><target dev='vda'/><address type='pci' bus='0x04' slot='0x00'/></disk>
    </devices></domain>`;
    expect(freeHotplugSlots(readTopology(xml))).toEqual([
      { bus: 3, slot: 0, controller: "pcie-switch-downstream-port" },
    ]);
  });

  it("pc: free slots 2..31 of pci-root (0 is the host bridge, 1 the PIIX3)", () => {
    const free = freeHotplugSlots(readTopology(fixture("pc-defined.xml")));
    expect(free.map((s) => s.slot)).toEqual(Array.from({ length: 25 }, (_, i) => i + 7));
    expect(free.every((s) => s.bus === 0 && s.controller === "pci-root")).toBe(true);
  });

  it("pc: with 32 placeholders libvirt adds a pci-bridge; stripped, 24 + 31 slots stay free", () => {
    const t = readTopology(fixture("pc-stripped-32.xml"));
    expect(t.controllers.map((c) => c.model)).toEqual(["pci-root", "pci-bridge"]);
    expect(t.controllers[1]?.address).toEqual({ domain: 0, bus: 0, slot: 7, function: 0 });
    expect(byController(freeHotplugSlots(t))).toEqual({ "pci-root": 24, "pci-bridge": 31 });
  });

  it("pc: nothing without ACPI (QEMU: Bus 'pci.0' does not support hotplugging)", () => {
    const xml = fixture("pc-defined.xml").replace(/<acpi\/>/, "");
    expect(readTopology(xml).acpi).toBe(false);
    expect(freeHotplugSlots(readTopology(xml))).toEqual([]);
  });
});

describe("the guarantee: free slots ≥ requested − interfaces, after stripping", () => {
  const interfaces = 2;
  it.each([
    ["q35", 4 + interfaces, "q35-stripped-4.xml", 4],
    ["q35", 32 + interfaces, "q35-stripped-32.xml", 32],
    ["q35", 0, "q35-defined.xml", 1],
    ["pc", 4 + interfaces, "pc-stripped-4.xml", 25],
    ["pc", 32 + interfaces, "pc-stripped-32.xml", 55],
    ["pc", 0, "pc-defined.xml", 25],
  ])("%s, request %s: %s has %s free", (_m, requested, file, expected) => {
    const free = freeHotplugSlots(readTopology(fixture(file))).length;
    expect(free).toBe(expected);
    expect(free).toBeGreaterThanOrEqual(placeholderCount(requested, interfaces));
  });
});

describe("controllersAdded", () => {
  it("q35: placeholder-1 takes the spare port, so N placeholders add N−1 ports", () => {
    const defined = fixture("q35-defined.xml");
    expect(controllersAdded(defined, fixture("q35-placeholders-4.xml"))).toEqual({
      total: 3,
      byModel: { "pcie-root-port": 3 },
    });
    expect(controllersAdded(defined, fixture("q35-placeholders-32.xml"))).toEqual({
      total: 31,
      byModel: { "pcie-root-port": 31 },
    });
    expect(controllersAdded(defined, defined)).toEqual({ total: 0, byModel: {} });
  });

  it("pc: nothing for 4, one pci-bridge for 32", () => {
    const defined = fixture("pc-defined.xml");
    expect(controllersAdded(defined, fixture("pc-placeholders-4.xml")).total).toBe(0);
    expect(controllersAdded(defined, fixture("pc-placeholders-32.xml"))).toEqual({
      total: 1,
      byModel: { "pci-bridge": 1 },
    });
  });

  it("the controllers stay after stripping", () => {
    expect(
      controllersAdded(fixture("q35-placeholders-32.xml"), fixture("q35-stripped-32.xml")).total,
    ).toBe(0);
    expect(
      controllersAdded(fixture("q35-stripped-32.xml"), fixture("q35-placeholders-32.xml")).total,
    ).toBe(0);
  });
});

describe("pciAddressesOf", () => {
  it("keys devices by disk target, interface alias, controller type:index", () => {
    const a = pciAddressesOf(fixture("q35-defined.xml"));
    expect(a["disk:vda"]).toBe("0000:03:00.0");
    expect(a["interface:ua-net-default"]).toBe("0000:01:00.0");
    expect(a["controller:pci:1"]).toBe("0000:00:01.0");
    expect(a["controller:sata:0"]).toBe("0000:00:1f.2");
    expect(a["rng#0"]).toBe("0000:05:00.0");
  });

  it("falls back to the MAC for an interface without alias", () => {
    const xml =
      "<domain><os><type machine='q35'/></os><devices><interface type='user'><mac address='02:00:00:00:00:07'/><address type='pci' bus='0x01' slot='0x00'/></interface></devices></domain>";
    expect(pciAddressesOf(xml)).toEqual({ "interface:02:00:00:00:00:07": "0000:01:00.0" });
  });

  for (const machine of ["q35", "pc"]) {
    it(`${machine}: every address survives placeholders and their removal`, () => {
      const defined = pciAddressesOf(fixture(`${machine}-defined.xml`));
      for (const file of ["placeholders-4", "stripped-4", "placeholders-32", "stripped-32"]) {
        const later = pciAddressesOf(fixture(`${machine}-${file}.xml`));
        for (const [id, address] of Object.entries(defined))
          expect(later[id], `${file} ${id}`).toBe(address);
      }
    });
  }
});

describe("formatPciAddress", () => {
  it("prints as lspci does", () => {
    expect(formatPciAddress({ domain: 0, bus: 0x1a, slot: 0x1f, function: 7 })).toBe(
      "0000:1a:1f.7",
    );
  });
});

describe("interfacesOf", () => {
  it("lists NICs and placeholders with what the launcher needs", () => {
    const list = interfacesOf(fixture("q35-placeholders-4.xml"));
    expect(list).toHaveLength(6);
    const [first, second, ph] = list;
    expect(first).toMatchObject({
      type: "user",
      alias: "ua-net-default",
      name: "default",
      model: "virtio-non-transitional",
      pciAddress: "0000:01:00.0",
      placeholder: false,
    });
    expect(first?.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(second).toMatchObject({ type: "bridge", bridge: "hrbr0", name: "secondary" });
    expect(ph).toMatchObject({
      type: "ethernet",
      alias: "ua-placeholder-1",
      targetDev: "placeholder-1",
      pciAddress: "0000:06:00.0",
      placeholder: true,
    });
    expect(ph?.name).toBeUndefined();
  });
});

describe("protectNonNicRootPorts", () => {
  function hotplugOff(xml: string): number[] {
    return children(child(parse(xml), "devices"), "controller")
      .filter((c) => children(c, "target")[0]?.getAttribute("hotplug") === "off")
      .map((c) => Number(c.getAttribute("index")));
  }

  it("q35: turns hotplug off on the ports of the disk, memballoon and rng only", () => {
    const stripped = stripPlaceholders(fixture("q35-placeholders-4.xml")).xml;
    const xml = protectNonNicRootPorts(stripped);
    // disk on 3, memballoon on 4, rng on 5; NICs on 1 and 2; free ports 6..9 stay hot-pluggable
    expect(hotplugOff(xml)).toEqual([3, 4, 5]);
    expect(freeHotplugSlots(readTopology(xml)).map((s) => s.bus)).toEqual([6, 7, 8, 9]);
    expect(readTopology(xml).controllers.find((c) => c.index === 3)?.hotplug).toBe(false);
    expect(elementCounts(xml)).toEqual(elementCounts(stripped));
    expect(pciAddressesOf(xml)).toEqual(pciAddressesOf(stripped));
  });

  it("is idempotent", () => {
    const once = protectNonNicRootPorts(fixture("q35-stripped-32.xml"));
    expect(protectNonNicRootPorts(once)).toBe(once);
  });

  it("adds a <target> to a port that has none", () => {
    const xml = `<domain><os><type machine='q35'/></os><devices>
    <controller type='pci' index='1' model='pcie-root-port'>
      <address type='pci' bus='0x00' slot='0x01'/>
    </controller>
    <disk type='file'><target dev='vda'/><address type='pci' bus='0x01' slot='0x00'/></disk>
  </devices></domain>`;
    expect(hotplugOff(protectNonNicRootPorts(xml))).toEqual([1]);
  });

  it("pc: unchanged", () => {
    const pc = fixture("pc-defined.xml");
    expect(protectNonNicRootPorts(pc)).toBe(pc);
  });
});
