import { describe, expect, it } from "vitest";
import {
  addPlaceholders,
  composeDomain,
  DomainSpecError,
  DomainXmlError,
  interfacesOf,
  pciAddressesOf,
  placeholderCount,
  placeholderInterfaces,
  readTopology,
  stripPlaceholders,
} from "../src/mod.ts";
import { fixtureSpec } from "./fixture_spec.ts";
import { child, children, elementCounts, fixture, parse, reserialize } from "./helpers.ts";

describe("placeholderCount", () => {
  it.each([
    [null, 0, 0],
    [null, 3, 0],
    [0, 1, 0],
    [5, 2, 3],
    [5, 5, 0],
    [2, 5, 0],
    [32, 0, 32],
    [32, 1, 31],
  ])("requested %s with %s interfaces → %s", (requested, interfaces, expected) => {
    expect(placeholderCount(requested, interfaces)).toBe(expected);
  });
});

describe("placeholderInterfaces", () => {
  it("has the seed's shape, numbered from 1, with a ua-placeholder alias", () => {
    const [first, second, ...rest] = placeholderInterfaces(2, "virtio-non-transitional");
    expect(rest).toEqual([]);
    expect(elementCounts(first as string)).toEqual({
      interface: 1,
      "interface/target": 1,
      "interface/model": 1,
      "interface/alias": 1,
    });
    const el = parse(first as string);
    expect(el.getAttribute("type")).toBe("ethernet");
    expect(child(el, "target").getAttribute("dev")).toBe("placeholder-1");
    expect(child(el, "target").getAttribute("managed")).toBe("no");
    expect(child(el, "model").getAttribute("type")).toBe("virtio-non-transitional");
    expect(child(el, "alias").getAttribute("name")).toBe("ua-placeholder-1");
    expect(child(parse(second as string), "target").getAttribute("dev")).toBe("placeholder-2");
  });

  it("uses the model the hot-plugged NICs will use", () => {
    const [xml] = placeholderInterfaces(1, "e1000e");
    expect(child(parse(xml as string), "model").getAttribute("type")).toBe("e1000e");
  });

  it("refuses counts outside 0..32 and unknown models", () => {
    expect(placeholderInterfaces(0, "virtio")).toEqual([]);
    expect(() => placeholderInterfaces(33, "virtio")).toThrow(DomainSpecError);
    expect(() => placeholderInterfaces(-1, "virtio")).toThrow(
      "placeholders: must be a whole number",
    );
    expect(() => placeholderInterfaces(1.5, "virtio")).toThrow(DomainSpecError);
    expect(() => placeholderInterfaces(1, "x'/><evil/>" as never)).toThrow("model: must be one of");
  });
});

describe("addPlaceholders", () => {
  const defined = fixture("q35-defined.xml");

  it("appends them at the end of <devices> and keeps every existing address", () => {
    const xml = addPlaceholders(defined, 4, "virtio-non-transitional");
    const devices = children(child(parse(xml), "devices"));
    const last4 = devices.slice(-4);
    expect(last4.map((e) => child(e, "target").getAttribute("dev"))).toEqual([
      "placeholder-1",
      "placeholder-2",
      "placeholder-3",
      "placeholder-4",
    ]);
    expect(pciAddressesOf(xml)).toEqual(pciAddressesOf(defined));
    expect(interfacesOf(xml).filter((i) => i.placeholder)).toHaveLength(4);
  });

  it("keeps libvirt's two-space layout", () => {
    const xml = addPlaceholders(defined, 1, "virtio");
    expect(xml).toContain(
      [
        '    <interface type="ethernet">',
        '      <target dev="placeholder-1" managed="no"/>',
        '      <model type="virtio"/>',
        '      <alias name="ua-placeholder-1"/>',
        "    </interface>",
        "  </devices>",
      ].join("\n"),
    );
  });

  it("with zero placeholders changes nothing structurally", () => {
    expect(elementCounts(addPlaceholders(defined, 0, "virtio"))).toEqual(elementCounts(defined));
  });

  it("works on freshly composed XML too", () => {
    const composed = composeDomain(fixtureSpec("pc", "p"));
    expect(interfacesOf(addPlaceholders(composed, 3, "virtio"))).toHaveLength(5);
  });

  it("refuses XML that already holds placeholders", () => {
    expect(() => addPlaceholders(fixture("q35-placeholders-4.xml"), 1, "virtio")).toThrow(
      "already holds 4 placeholder interface(s); strip them first",
    );
  });

  it("refuses what is not domain XML", () => {
    expect(() => addPlaceholders("<domain>", 1, "virtio")).toThrow(DomainXmlError);
    expect(() => addPlaceholders("<network/>", 1, "virtio")).toThrow("<domain> as its root");
    expect(() => addPlaceholders("<domain/>", 1, "virtio")).toThrow("no <devices>");
    expect(() => addPlaceholders("", 1, "virtio")).toThrow("domain XML is empty");
  });
});

describe("stripPlaceholders", () => {
  for (const machine of ["q35", "pc"]) {
    for (const count of [4, 32]) {
      it(`${machine}: removes the ${count} placeholders libvirt read back, keeps the rest`, () => {
        const withPlaceholders = fixture(`${machine}-placeholders-${count}.xml`);
        const { xml, removed } = stripPlaceholders(withPlaceholders);
        expect(removed).toBe(count);
        expect(interfacesOf(xml).map((i) => i.alias)).toEqual([
          "ua-net-default",
          "ua-net-secondary",
        ]);
        // Everything else, libvirt's added controllers included, is untouched.
        const before = elementCounts(withPlaceholders);
        const after = elementCounts(xml);
        for (const [path, n] of Object.entries(before)) {
          const isPlaceholderPart = path.startsWith("domain/devices/interface");
          if (!isPlaceholderPart) expect(after[path], path).toBe(n);
        }
        expect(after["domain/devices/interface"]).toBe(2);
        // And it is what libvirt itself returns once the stripped XML is defined.
        const reread = fixture(`${machine}-stripped-${count}.xml`);
        expect(elementCounts(reread)).toEqual(after);
        const t = readTopology(xml);
        expect(t.controllers).toEqual(readTopology(reread).controllers);
        expect(t.devices.filter((d) => d.placeholder)).toEqual([]);
      });
    }
  }

  it("is the inverse of addPlaceholders", () => {
    const defined = fixture("q35-defined.xml");
    const { xml, removed } = stripPlaceholders(addPlaceholders(defined, 7, "virtio"));
    expect(removed).toBe(7);
    expect(xml).toBe(reserialize(defined));
  });

  it("removes nothing from XML without placeholders", () => {
    const defined = fixture("pc-defined.xml");
    expect(stripPlaceholders(defined).removed).toBe(0);
    expect(elementCounts(stripPlaceholders(defined).xml)).toEqual(elementCounts(defined));
  });

  it("recognises placeholders by structure, not by alias or by name alone", () => {
    const domain = (devices: string) =>
      `<domain type='qemu'><name>x</name><os><type machine='q35'>hvm</type></os><devices>${devices}</devices><metadata><interface type='ethernet'><target dev='placeholder-9' managed='no'/></interface></metadata></domain>`;
    const kept = [
      // a real tap device the user manages
      "<interface type='ethernet'><target dev='tap0' managed='no'/><alias name='ua-placeholder-1'/></interface>",
      // named like one but managed by libvirt
      "<interface type='ethernet'><target dev='placeholder-2'/></interface>",
      "<interface type='ethernet'><target dev='placeholder-3' managed='yes'/></interface>",
      // not ethernet
      "<interface type='bridge'><source bridge='b'/><target dev='placeholder-4' managed='no'/></interface>",
    ];
    const dropped =
      "<interface type='ethernet'><target dev='placeholder-5' managed='no'/><model type='virtio'/></interface>";
    const { xml, removed } = stripPlaceholders(domain(kept.join("") + dropped));
    expect(removed).toBe(1);
    expect(interfacesOf(xml)).toHaveLength(4);
    expect(xml).not.toContain("placeholder-5");
    // Only <devices> is touched: the look-alike in <metadata> stays.
    expect(xml).toContain("placeholder-9");
  });
});

describe("the one-step flow the seed describes moves devices (why headroom defines twice)", () => {
  it("q35: the disk lands on bus 0x07 instead of 0x03", () => {
    expect(pciAddressesOf(fixture("q35-defined.xml"))["disk:vda"]).toBe("0000:03:00.0");
    expect(pciAddressesOf(fixture("q35-onestep-placeholders-4.xml"))["disk:vda"]).toBe(
      "0000:07:00.0",
    );
    // Adding placeholders to libvirt's read-back keeps the disk where it was.
    expect(pciAddressesOf(fixture("q35-placeholders-4.xml"))["disk:vda"]).toBe("0000:03:00.0");
  });

  it("pc: the disk moves from slot 4 to slot 8", () => {
    expect(pciAddressesOf(fixture("pc-defined.xml"))["disk:vda"]).toBe("0000:00:04.0");
    expect(pciAddressesOf(fixture("pc-onestep-placeholders-4.xml"))["disk:vda"]).toBe(
      "0000:00:08.0",
    );
    expect(pciAddressesOf(fixture("pc-placeholders-4.xml"))["disk:vda"]).toBe("0000:00:04.0");
  });
});
