/**
 * Hostile values in every string field of DomainSpec: each one is either refused with the
 * field's path, or comes back from the XML exactly as given without adding a single element.
 */

import type { Element } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import {
  composeDomain,
  type DomainSpec,
  DomainSpecError,
  type NicSpec,
  nicXml,
} from "../src/mod.ts";
import { fixtureSpec } from "./fixture_spec.ts";
import { child, children, elementCounts, parse, virtXmlValidate } from "./helpers.ts";

const HOSTILE: Record<string, string> = {
  quotes: `a"b'c`,
  "attribute break-out": `x'/><evil a='`,
  "double-quoted break-out": `x"/><evil a="`,
  "element injection": "</name><evil/><name>",
  "comment/PI/doctype": "<!-- c --><?pi x?><!DOCTYPE d>",
  entities: "&amp; &lt; &#60; &x; &",
  "CDATA end": "]]>",
  "CDATA section": "<![CDATA[<evil/>]]>",
  "very long": "A".repeat(100_000),
  unicode: "héllo ✓ 𝄞 日本語 \u200b\u202e",
  NUL: "a\u0000b",
  "escape sequence": "\u001b[31mred",
  bell: "a\u0007",
  newline: "line1\nline2",
  "carriage return": "a\rb",
  tab: "a\tb",
  DEL: "a\u007f",
  "C1 control": "a\u0085b",
  "lone surrogate": "a\ud800b",
  "U+FFFE": "a\uFFFE",
  "absolute path with tricks": "/var/lib/x'/><evil/>&amp;]]>",
};

interface Field {
  path: string;
  set: (spec: DomainSpec, value: string) => void;
  /** Reads the value back from the parsed XML (undefined: the field is not written). */
  get: (domain: Element) => string | null | undefined;
}

const disk0 = (d: Element) => children(child(d, "devices"), "disk")[0] as Element;
const nic = (d: Element, i: number) => children(child(d, "devices"), "interface")[i] as Element;

const FIELDS: Field[] = [
  {
    path: "name",
    set: (s, v) => {
      s.name = v;
    },
    get: (d) => child(d, "name").textContent,
  },
  {
    path: "uuid",
    set: (s, v) => {
      s.uuid = v;
    },
    get: (d) => child(d, "uuid").textContent,
  },
  {
    path: "title",
    set: (s, v) => {
      s.title = v;
    },
    get: (d) => child(d, "title").textContent,
  },
  {
    path: "description",
    set: (s, v) => {
      s.description = v;
    },
    get: (d) => child(d, "description").textContent,
  },
  {
    path: "kernelBoot.kernelPath",
    set: (s, v) => {
      (s.kernelBoot as NonNullable<DomainSpec["kernelBoot"]>).kernelPath = v;
    },
    get: (d) => child(d, "os", "kernel").textContent,
  },
  {
    path: "kernelBoot.initrdPath",
    set: (s, v) => {
      (s.kernelBoot as NonNullable<DomainSpec["kernelBoot"]>).initrdPath = v;
    },
    get: (d) => child(d, "os", "initrd").textContent,
  },
  {
    path: "kernelBoot.cmdline",
    set: (s, v) => {
      (s.kernelBoot as NonNullable<DomainSpec["kernelBoot"]>).cmdline = v;
    },
    get: (d) => child(d, "os", "cmdline").textContent,
  },
  {
    path: "disks[0].name",
    set: (s, v) => {
      (s.disks[0] as DomainSpec["disks"][0]).name = v;
    },
    get: (d) =>
      child(disk0(d), "alias")
        .getAttribute("name")
        ?.replace(/^ua-disk-/, ""),
  },
  {
    path: "disks[0].sourceFile",
    set: (s, v) => {
      (s.disks[0] as DomainSpec["disks"][0]).sourceFile = v;
    },
    get: (d) => child(disk0(d), "source").getAttribute("file"),
  },
  {
    path: "interfaces[0].name",
    set: (s, v) => {
      (s.interfaces[0] as NicSpec).name = v;
    },
    get: (d) =>
      child(nic(d, 0), "alias")
        .getAttribute("name")
        ?.replace(/^ua-net-/, ""),
  },
  {
    path: "interfaces[0].mac",
    set: (s, v) => {
      (s.interfaces[0] as NicSpec).mac = v;
    },
    get: (d) => child(nic(d, 0), "mac").getAttribute("address"),
  },
  {
    path: "interfaces[1].bridge",
    set: (s, v) => {
      (s.interfaces[1] as NicSpec).bridge = v;
    },
    get: (d) => child(nic(d, 1), "source").getAttribute("bridge"),
  },
  {
    path: "serialConsoleLogPath",
    set: (s, v) => {
      s.serialConsoleLogPath = v;
    },
    get: (d) => child(d, "devices", "serial", "log").getAttribute("file"),
  },
];

const ENUMS: Field["path"][] = [
  "virtType",
  "machine",
  "disks[0].bus",
  "disks[0].format",
  "interfaces[0].kind",
  "interfaces[0].model",
];

function baseSpec(): DomainSpec {
  return { ...structuredClone(fixtureSpec("q35", "default_vmi")), description: "a VMI" };
}

function setEnum(spec: DomainSpec, path: string, value: string): void {
  const s = spec as unknown as Record<string, unknown>;
  const disk = spec.disks[0] as unknown as Record<string, unknown>;
  const nic0 = spec.interfaces[0] as unknown as Record<string, unknown>;
  if (path === "virtType" || path === "machine") s[path] = value;
  else if (path.startsWith("disks[0].")) disk[path.slice(9)] = value;
  else nic0[path.slice(14)] = value;
}

const baseline = elementCounts(composeDomain(baseSpec()));

describe.each(FIELDS)("$path", (field) => {
  it.each(Object.entries(HOSTILE))(
    "%s: refused with the field path, or escaped and intact",
    (_, value) => {
      const spec = baseSpec();
      field.set(spec, value);
      let xml: string;
      try {
        xml = composeDomain(spec);
      } catch (e) {
        expect(e).toBeInstanceOf(DomainSpecError);
        expect((e as DomainSpecError).path).toBe(field.path);
        expect((e as Error).message).toMatch(
          new RegExp(`^${field.path.replace(/[[\].]/g, "\\$&")}: `),
        );
        return;
      }
      // Accepted: the document parses, has exactly the baseline's elements, and the value is intact.
      expect(elementCounts(xml)).toEqual(baseline);
      expect(field.get(parse(xml))).toBe(value);
    },
  );
});

describe("what is accepted, and what is not", () => {
  const outcome = (path: string, value: string) => {
    const spec = baseSpec();
    (FIELDS.find((f) => f.path === path) as Field).set(spec, value);
    try {
      composeDomain(spec);
      return "accepted";
    } catch (e) {
      return (e as Error).message;
    }
  };

  it("free text takes markup characters and unicode, escaped", () => {
    for (const v of [
      HOSTILE.quotes,
      HOSTILE["element injection"],
      HOSTILE["CDATA end"],
      HOSTILE.unicode,
    ]) {
      expect(outcome("title", v as string)).toBe("accepted");
      expect(outcome("description", v as string)).toBe("accepted");
    }
    expect(outcome("description", "line1\nline2\twith tab")).toBe("accepted");
    expect(outcome("name", "ns_vmi-ü")).toBe("accepted");
    expect(outcome("disks[0].sourceFile", HOSTILE["absolute path with tricks"] as string)).toBe(
      "accepted",
    );
  });

  it("control characters, bad XML characters and overlong values are refused, plainly", () => {
    expect(outcome("title", "a\nb")).toBe("title: must be one line without control characters");
    expect(outcome("description", "a\rb")).toBe(
      "description: must not contain control characters other than tab and newline",
    );
    expect(outcome("description", "a\u0000b")).toBe(
      "description: contains characters XML cannot carry",
    );
    expect(outcome("title", "a\ud800")).toBe("title: contains characters XML cannot carry");
    expect(outcome("title", "x".repeat(1025))).toBe(
      "title: is 1025 characters long; at most 1024 allowed",
    );
    expect(outcome("kernelBoot.cmdline", "x".repeat(2049))).toMatch(/at most 2048 allowed/);
    expect(outcome("name", "a/b")).toBe("name: must not contain '/'");
    expect(outcome("name", "")).toBe("name: must not be empty");
    expect(outcome("interfaces[0].name", "a'b")).toMatch(/may hold only letters, digits/);
    expect(outcome("interfaces[1].bridge", "br 0")).toMatch(/not a valid host interface name/);
    expect(outcome("interfaces[1].bridge", "b".repeat(16))).toMatch(/at most 15 allowed/);
  });

  it("values just under the limits are kept whole", () => {
    const spec = baseSpec();
    spec.title = "&".repeat(1024);
    spec.description = "<".repeat(65536);
    const d = parse(composeDomain(spec));
    expect(child(d, "title").textContent).toBe(spec.title);
    expect(child(d, "description").textContent).toBe(spec.description);
  });

  it("libvirt's schema accepts a domain full of escaped markup", () => {
    const spec = baseSpec();
    spec.title = `"'<evil/>&amp;]]>`;
    spec.description = "</description><devices><evil/></devices>\n]]>";
    (spec.disks[0] as DomainSpec["disks"][0]).sourceFile = "/x/'\"<y>&z]]>.qcow2";
    spec.serialConsoleLogPath = "/log/'\"<y>&z.log";
    spec.kernelBoot = { kernelPath: "/k/<k>", cmdline: `a="<b>" & ]]> c` };
    expect(virtXmlValidate(composeDomain(spec))).toMatch(/validates/);
  });
});

describe.each(ENUMS)("%s", (path) => {
  it.each(["", "x'/><evil/>", "Q35", "virtio ", "__proto__"])("refuses %j", (value) => {
    const spec = baseSpec();
    setEnum(spec, path, value);
    expect(() => composeDomain(spec)).toThrow(
      new RegExp(`^${path.replace(/[[\].]/g, "\\$&")}: must be one of`),
    );
  });
});

describe("numbers", () => {
  it.each([
    ["vcpus", Number.NaN],
    ["vcpus", -1],
    ["vcpus", 1e9],
    ["memoryKiB", Number.POSITIVE_INFINITY],
    ["memoryKiB", 0],
  ] as const)("%s = %s is refused", (field, value) => {
    const spec = baseSpec();
    spec[field] = value;
    expect(() => composeDomain(spec)).toThrow(new RegExp(`^${field}: must be a whole number`));
  });

  it("a value that is not a number cannot sneak markup in", () => {
    const spec = baseSpec();
    (spec as unknown as Record<string, unknown>).vcpus = "1</vcpu><evil/>";
    expect(() => composeDomain(spec)).toThrow("vcpus: must be a whole number");
  });
});

describe("nicXml", () => {
  it.each(Object.entries(HOSTILE))("%s in name or bridge is refused", (_, value) => {
    expect(() => nicXml({ name: value, kind: "pod", model: "virtio" })).toThrow(/^nic\.name: /);
    expect(() => nicXml({ name: "n", kind: "bridge", bridge: value, model: "virtio" })).toThrow(
      /^nic\.bridge: /,
    );
  });
});
