// Every input is bounded, and going past a bound is refused with the field and the limit named.
import { describe, expect, it } from "vitest";
import { DocumentError, MAX_DOCUMENT_BYTES, parseDocument, validateVmi } from "../src/mod.ts";
import { type Doc, expectOneError, vmiWith } from "./helpers.ts";

function copies<T>(count: number, make: (i: number) => T): T[] {
  return Array.from({ length: count }, (_, i) => make(i));
}

function deepNest(depth: number, inList: boolean): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = inList ? [value] : { a: value };
  return value;
}

describe("size limits", () => {
  it("refuses a document over MAX_DOCUMENT_BYTES before parsing it, naming size and limit", () => {
    const text = `# ${"x".repeat(MAX_DOCUMENT_BYTES)}\napiVersion: kubevirt.io/v1\n`;
    expect(() => parseDocument(text, "vm.yaml")).toThrow(DocumentError);
    expect(() => parseDocument(text, "vm.yaml")).toThrow(
      `vm.yaml is ${Buffer.byteLength(text)} bytes; headroom takes documents of at most ${MAX_DOCUMENT_BYTES} bytes`,
    );
  });

  it("takes a document of exactly MAX_DOCUMENT_BYTES", () => {
    const head = "apiVersion: kubevirt.io/v1\n# ";
    const text = head + "x".repeat(MAX_DOCUMENT_BYTES - head.length);
    expect(Buffer.byteLength(text)).toBe(MAX_DOCUMENT_BYTES);
    expect(parseDocument(text)).toEqual({ apiVersion: "kubevirt.io/v1" });
  });

  it("counts bytes, not characters: multi-byte text over the limit is refused", () => {
    const text = `# ${"é".repeat(MAX_DOCUMENT_BYTES / 2 + 1)}`;
    expect(() => parseDocument(text)).toThrow(/headroom takes documents of at most 1048576 bytes/);
  });
});

describe("list and map limits", () => {
  const cases: [string, string, number, (doc: Doc, count: number) => void][] = [
    [
      "interfaces",
      "spec.domain.devices.interfaces",
      32,
      (doc, n) => {
        doc.spec.domain.devices.interfaces = copies(n, (i) => ({ name: `n${i}`, bridge: {} }));
      },
    ],
    [
      "networks",
      "spec.networks",
      32,
      (doc, n) => {
        doc.spec.networks = copies(n, (i) => ({ name: `n${i}`, pod: {} }));
      },
    ],
    [
      "disks",
      "spec.domain.devices.disks",
      16,
      (doc, n) => {
        doc.spec.domain.devices.disks = copies(n, (i) => ({ name: `d${i}` }));
      },
    ],
    [
      "volumes",
      "spec.volumes",
      16,
      (doc, n) => {
        doc.spec.volumes = copies(n, (i) => ({ name: `d${i}`, emptyDisk: { capacity: "1Gi" } }));
      },
    ],
    [
      "labels",
      "metadata.labels",
      64,
      (doc, n) => {
        doc.metadata.labels = Object.fromEntries(copies(n, (i) => [`k${i}`, "v"]));
      },
    ],
  ];

  for (const [what, field, limit, fill] of cases) {
    it(`refuses ${limit + 1} ${what} naming ${field} and the limit ${limit}`, () => {
      const error = expectOneError(validateVmi(vmiWith((doc) => fill(doc, limit + 1))), field);
      expect(error.message).toBe(`${field} has ${limit + 1} entries; at most ${limit} are allowed`);
    });

    it(`refuses 100,000 ${what} with the same one error`, () => {
      const result = validateVmi(vmiWith((doc) => fill(doc, 100_000)));
      expect(result.errors.map((error) => error.field)).toEqual([field]);
      expect(result.errors[0]?.message).toContain(`at most ${limit} are allowed`);
    });
  }

  it("takes exactly 32 interfaces with their 32 networks", () => {
    const doc = vmiWith((d) => {
      d.spec.domain.devices.interfaces = copies(32, (i) => ({ name: `n${i}`, bridge: {} }));
      d.spec.networks = copies(32, (i) => ({ name: `n${i}`, multus: { networkName: "br" } }));
      d.spec.domain.resources.requests["kubevirt.io/interface"] = 32;
    });
    const result = validateVmi(doc);
    expect(result.errors).toEqual([]);
    expect(result.capacity?.effective).toBe(32);
  });
});

describe("string limits", () => {
  it("refuses a name of 64 characters, saying 1 to 63", () => {
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.metadata.name = "a".repeat(64)))),
      "metadata.name",
    );
    expect(error.message).toContain("1 to 63");
  });

  it("takes a name of 63 characters", () => {
    expect(validateVmi(vmiWith((doc) => (doc.metadata.name = "a".repeat(63)))).valid).toBe(true);
  });

  it("refuses a namespace of 64 characters, saying 1 to 63", () => {
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.metadata.namespace = "a".repeat(64)))),
      "metadata.namespace",
    );
    expect(error.message).toContain("1 to 63");
  });

  it("refuses an interface name of 64 characters", () => {
    const result = validateVmi(
      vmiWith((doc) => (doc.spec.domain.devices.interfaces[1].name = "a".repeat(64))),
    );
    expect(result.valid).toBe(false);
    expect(result.errors.map((error) => error.field)).toContain(
      "spec.domain.devices.interfaces[1].name",
    );
  });

  it("refuses kernelArgs over 1024 characters, saying the limit", () => {
    const field = "spec.domain.firmware.kernelBoot.kernelArgs";
    const error = expectOneError(
      validateVmi(
        vmiWith((doc) => (doc.spec.domain.firmware.kernelBoot.kernelArgs = "a".repeat(1025))),
      ),
      field,
    );
    expect(error.message).toContain("at most 1024 characters");
  });

  it("cuts a huge unknown key short in the field path, so the errors stay small", () => {
    const plain = `k${"x".repeat(100_000)}`;
    const odd = `-${"x".repeat(100_000)}`;
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec[plain] = 1;
        doc.spec[odd] = 1;
      }),
    );
    expect(result.errors.map((error) => error.field)).toEqual([
      `spec[${plain.slice(0, 320)}…]`,
      `spec[${odd.slice(0, 320)}…]`,
    ]);
    for (const error of result.errors) expect(error.message.length).toBeLessThan(1000);
  });

  it("keeps a label key of the longest valid length whole in the path", () => {
    const key = `${"a".repeat(253)}/${"b".repeat(63)}`;
    const result = validateVmi(vmiWith((doc) => (doc.metadata.labels = { [key]: 5 })));
    expect(result.errors.map((error) => error.field)).toEqual([`metadata.labels[${key}]`]);
  });

  it("shortens a huge wrong value in the message", () => {
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.machine = { type: "x".repeat(500_000) }))),
      "spec.domain.machine.type",
    );
    expect(error.message.length).toBeLessThan(300);
  });
});

describe("deep nesting", () => {
  const places: [string, string, (doc: Doc, value: unknown) => void][] = [
    ["an unknown top-level field", "x", (doc, v) => (doc.x = v)],
    ["metadata.name", "metadata.name", (doc, v) => (doc.metadata.name = v)],
    ["a label value", "metadata.labels.app", (doc, v) => (doc.metadata.labels.app = v)],
    ["spec.domain.cpu", "spec.domain.cpu", (doc, v) => (doc.spec.domain.cpu = v)],
    ["spec.domain.rng", "spec.domain.rng", (doc, v) => (doc.spec.domain.rng = v)],
    [
      "the interface request",
      "spec.domain.resources.requests[kubevirt.io/interface]",
      (doc, v) => (doc.spec.domain.resources.requests["kubevirt.io/interface"] = v),
    ],
    [
      "the memory request",
      "spec.domain.resources.requests.memory",
      (doc, v) => (doc.spec.domain.resources.requests.memory = v),
    ],
    [
      "spec.domain.memory.guest",
      "spec.domain.memory.guest",
      (doc, v) => (doc.spec.domain.memory.guest = v),
    ],
  ];

  for (const inList of [false, true]) {
    for (const [where, field, put] of places) {
      it(`refuses 100,000 levels of ${inList ? "lists" : "objects"} in ${where}, naming a field inside it`, () => {
        const result = validateVmi(vmiWith((doc) => put(doc, deepNest(100_000, inList))));
        expect(result.valid).toBe(false);
        expect(result.errors.length).toBeGreaterThan(0);
        for (const error of result.errors) {
          expect(error.field.startsWith(field)).toBe(true);
          expect(error.message.length).toBeLessThan(500);
        }
      });
    }
  }
});
