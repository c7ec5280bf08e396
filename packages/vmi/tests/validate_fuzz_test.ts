// validateVmi against generated bad input: it never throws, answers quickly, and
// every refusal names a field. Seeded: set HEADROOM_FUZZ_SEED to replay a run
// (fast-check prints the seed and the shrunk counterexample on failure).
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDocument, type ValidationResult, validateVmi } from "../src/mod.ts";
import { baseVmi, type Doc } from "./helpers.ts";

const SEED = Number(process.env.HEADROOM_FUZZ_SEED ?? 20261128);

const SEED_EXAMPLE = parseDocument(
  readFileSync(new URL("../../../examples/vmi-seed.yaml", import.meta.url), "utf8"),
) as Doc;

/**
 * A VMI as KubeVirt users write one: v1alpha3, no interfaces (KubeVirt's
 * default), an empty machine type, cloud-init, a grace period, disk and
 * firmware fields, and fields that only get a warning.
 */
function kubevirtShaped(): Doc {
  return {
    apiVersion: "kubevirt.io/v1alpha3",
    kind: "VirtualMachineInstance",
    metadata: { name: "vmi-fedora", labels: { special: "vmi-fedora" } },
    spec: {
      hostname: "fedora",
      serviceAccountName: "default",
      nodeSelector: { "kubernetes.io/hostname": "node01" },
      tolerations: [{ key: "a", operator: "Exists" }],
      terminationGracePeriodSeconds: 0,
      domain: {
        machine: { type: "" },
        firmware: { serial: "VM-0042" },
        cpu: {
          model: "Nehalem",
          features: [{ name: "aes" }, { name: "x2apic", policy: "disable" }],
        },
        resources: { requests: { memory: "1024M", cpu: "1", "kubevirt.io/interface": 4 } },
        devices: {
          disks: [
            {
              name: "containerdisk",
              bootOrder: 1,
              serial: "ROOT",
              cache: "none",
              errorPolicy: "stop",
              io: "native",
              blockSize: { custom: { logical: 512, physical: 4096 } },
            },
            { name: "cloudinitdisk", cdrom: { bus: "sata", tray: "closed" } },
          ],
          rng: {},
          autoattachSerialConsole: true,
          inputs: [{ type: "tablet", bus: "virtio", name: "tablet0" }],
        },
      },
      volumes: [
        {
          name: "containerdisk",
          containerDisk: {
            image: "registry:5000/kubevirt/fedora:devel",
            path: "/disk/fedora.qcow2",
          },
        },
        { name: "scratch", ephemeral: { persistentVolumeClaim: { claimName: "golden" } } },
        {
          name: "cloudinitdisk",
          cloudInitNoCloud: { userData: "#cloud-config\npassword: fedora\n", networkData: "x" },
        },
      ],
    },
    status: {},
  };
}

/** KubeVirt's vmi-masquerade example: a masquerade interface with ports. */
function withPorts(): Doc {
  const doc = baseVmi();
  Object.assign(doc.spec.domain.devices.interfaces[1], {
    acpiIndex: 3,
    bootOrder: 2,
    state: "down",
  });
  doc.spec.domain.devices.interfaces[0].ports = [
    { name: "http", port: 80, protocol: "TCP" },
    { port: 8080 },
  ];
  return doc;
}

/** Strings that break naive XML, shell, path or JSON handling, and lengths at the limits. */
const NASTY_STRINGS = [
  "",
  " ",
  "<domain/>",
  "</name><devices><hostdev/></devices>",
  "&amp;&lt;&#0;",
  "]]>",
  "<![CDATA[x]]>",
  "'\"",
  "$(reboot)",
  "`id`",
  "; rm -rf /",
  "a|b&c>d",
  "../../etc/passwd",
  "/boot/../etc/shadow",
  "\u0000",
  "\u0007\u001b[31m",
  "line\nbreak",
  "\r\n",
  "\u202eevil",
  "\ud800",
  "🦄",
  "é",
  "__proto__",
  "constructor",
  "toString",
  "a".repeat(63),
  "a".repeat(64),
  "a".repeat(255),
  "a".repeat(256),
  "a".repeat(100_000),
  "0x10",
  "1e3",
  "-1",
  "33",
  "NaN",
  "Infinity",
  "1M",
  "10000m",
  "64Gi",
  "65Gi",
  "16Mi",
  "15Mi",
];

/** Numbers at and just past every bound the schema and rules know, plus the odd ones. */
const NASTY_NUMBERS = [
  -1,
  0,
  1,
  1.5,
  31,
  32,
  33,
  63,
  64,
  65,
  255,
  256,
  16 * 1024 ** 2 - 1,
  16 * 1024 ** 2,
  64 * 1024 ** 3,
  64 * 1024 ** 3 + 1,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

const nastyString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.stringMatching(/^[a-z0-9-]{0,70}$/),
);
const nastyNumber = fc.oneof(
  fc.constantFrom(...NASTY_NUMBERS),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
);

function deepNest(depth: number, inList: boolean): unknown {
  let value: unknown = "bottom";
  for (let i = 0; i < depth; i++) value = inList ? [value] : { a: value };
  return value;
}

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 3, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, true, false, {}, []) },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 3, maxKeys: 5 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 10, max: 800 }), fc.boolean())
      .map(([depth, inList]) => deepNest(depth, inList)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 17, max: 2000 }), fc.constantFrom<unknown>({}, "x", 1, null))
      .map(([length, item]) => Array.from({ length }, () => structuredClone(item))),
  },
);

type Path = (string | number)[];

/** Every path inside `doc` that leads to an object or list, and every leaf path. */
function pathsOf(doc: unknown, at: Path = []): { containers: Path[]; leaves: Path[] } {
  const containers: Path[] = [];
  const leaves: Path[] = [];
  const walk = (node: unknown, path: Path) => {
    if (Array.isArray(node)) {
      containers.push(path);
      for (const [i, item] of node.entries()) walk(item, [...path, i]);
    } else if (typeof node === "object" && node !== null) {
      containers.push(path);
      for (const [key, value] of Object.entries(node)) walk(value, [...path, key]);
    } else {
      leaves.push(path);
    }
  };
  walk(doc, at);
  return { containers, leaves };
}

function at(doc: Doc, path: Path): Doc {
  return path.reduce((node, key) => node[key], doc);
}

function setAt(doc: Doc, path: Path, value: unknown): Doc {
  if (path.length === 0) return value;
  at(doc, path.slice(0, -1))[path[path.length - 1] as string | number] = value;
  return doc;
}

/** The seed example (or the test base VMI) with one change: a leaf replaced, a key added, a key removed, or a list grown past its limit. */
const mutatedSeed: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.constantFrom(SEED_EXAMPLE, baseVmi(), kubevirtShaped(), withPorts()),
    fc.constantFrom("replace-leaf", "replace-any", "insert-key", "delete-key", "grow-list"),
    fc.nat(),
    fc.oneof(nastyString, fc.constantFrom("name", "bridge", "pod", "status", "spec")),
    nastyValue,
    fc.integer({ min: 17, max: 300 }),
  )
  .map(([origin, kind, pick, key, value, growTo]) => {
    const doc = structuredClone(origin);
    const { containers, leaves } = pathsOf(doc);
    const all = [...containers.slice(1), ...leaves];
    switch (kind) {
      case "replace-leaf":
        return setAt(doc, leaves[pick % leaves.length] as Path, value);
      case "replace-any":
        return setAt(doc, all[pick % all.length] as Path, value);
      case "insert-key": {
        const target = at(doc, containers[pick % containers.length] as Path);
        if (Array.isArray(target)) target.push(value);
        else target[key] = value;
        return doc;
      }
      case "delete-key": {
        const path = all[pick % all.length] as Path;
        const parent = at(doc, path.slice(0, -1));
        if (Array.isArray(parent)) parent.splice(path[path.length - 1] as number, 1);
        else delete parent[path[path.length - 1] as string];
        return doc;
      }
      default: {
        const lists = containers.filter((path) => Array.isArray(at(doc, path)));
        const list = at(doc, lists[pick % lists.length] as Path) as unknown[];
        const first = list[0];
        for (let i = list.length; i < growTo; i++) list.push(structuredClone(first));
        return doc;
      }
    }
  });

/** Random objects in roughly the VMI's shape, with nasty values anywhere. */
const randomVmiShape: fc.Arbitrary<unknown> = fc.oneof(
  nastyValue,
  fc.record(
    {
      apiVersion: fc.oneof(fc.constant("kubevirt.io/v1"), nastyValue),
      kind: fc.oneof(fc.constant("VirtualMachineInstance"), nastyValue),
      metadata: fc.oneof(
        fc.record(
          { name: nastyValue, namespace: nastyValue, labels: nastyValue },
          {
            requiredKeys: [],
          },
        ),
        nastyValue,
      ),
      spec: fc.oneof(
        fc.record(
          {
            domain: fc.dictionary(
              fc.constantFrom(
                "cpu",
                "memory",
                "machine",
                "firmware",
                "devices",
                "resources",
                "rng",
              ),
              nastyValue,
            ),
            networks: fc.array(fc.dictionary(nastyString, nastyValue, { maxKeys: 3 }), {
              maxLength: 40,
            }),
            volumes: nastyValue,
          },
          { requiredKeys: [] },
        ),
        nastyValue,
      ),
      status: nastyValue,
    },
    { requiredKeys: [] },
  ),
);

let slowestMs = 0;
let slowestDoc: unknown;
const counts = { valid: 0, invalid: 0 };

function checkedValidation(doc: unknown): ValidationResult {
  const started = performance.now();
  const result = validateVmi(doc);
  const took = performance.now() - started;
  if (took > slowestMs) {
    slowestMs = took;
    slowestDoc = doc;
  }
  expect(typeof result.valid).toBe("boolean");
  if (result.valid) {
    counts.valid++;
    expect(result.errors).toEqual([]);
    expect(result.vmi).not.toBeNull();
    expect(result.capacity?.effective).toBeGreaterThanOrEqual(0);
    expect(result.capacity?.effective).toBeLessThanOrEqual(33);
    for (const warning of result.warnings)
      expect(warning.message.startsWith(warning.field)).toBe(true);
    // The stored VMI, validated again (the composer does), is itself: defaults do not pile up.
    expect(validateVmi(structuredClone(result.vmi)).vmi).toEqual(result.vmi);
  } else {
    counts.invalid++;
    expect(result.vmi).toBeNull();
    expect(result.errors.length).toBeGreaterThan(0);
    for (const error of result.errors) {
      expect(typeof error.field).toBe("string");
      expect(typeof error.message).toBe("string");
      expect(error.message.length).toBeGreaterThan(0);
      // Bounded: a long unknown key is cut short in the path, and values are shortened.
      expect(error.field.length).toBeLessThan(2000);
      expect(error.message.length).toBeLessThan(5000);
    }
    // An object always gets at least one error that points into it.
    if (typeof doc === "object" && doc !== null && !Array.isArray(doc))
      expect(result.errors.some((error) => error.field !== "")).toBe(true);
  }
  return result;
}

describe("validateVmi on generated bad input", () => {
  it("starts from origins that are valid: the KubeVirt-shaped one with its warnings", () => {
    const result = validateVmi(kubevirtShaped());
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((warning) => warning.field)).toEqual([
      "status",
      "apiVersion",
      "spec.serviceAccountName",
      "spec.tolerations",
      "spec.domain.resources.requests.cpu",
      "spec.domain.devices.inputs",
    ]);
    expect(result.vmi?.spec.domain.devices.interfaces.map((iface) => iface.name)).toEqual([
      "default",
    ]);
  });

  it("never throws and names a field for every refusal: 6,000 mutated seed examples", () => {
    fc.assert(
      fc.property(mutatedSeed, (doc) => {
        checkedValidation(doc);
      }),
      { seed: SEED, numRuns: 6000 },
    );
  });

  it("never throws and names a field for every refusal: 5,000 random VMI-shaped values", () => {
    fc.assert(
      fc.property(randomVmiShape, (doc) => {
        checkedValidation(doc);
      }),
      { seed: SEED, numRuns: 5000 },
    );
  });

  it("answers every call quickly (the slowest is reported)", () => {
    let shown: string;
    try {
      shown = String(
        JSON.stringify(slowestDoc, (_key, v) => (typeof v === "bigint" ? `${v}n` : v)),
      ).slice(0, 160);
    } catch {
      shown = "a value nested too deep to print";
    }
    console.log(
      `validateVmi: ${counts.valid} valid, ${counts.invalid} invalid; slowest call ${slowestMs.toFixed(2)} ms on ${shown}`,
    );
    expect(counts.valid + counts.invalid).toBe(11_000);
    // A generous bound: a call is normally well under a millisecond; this catches a hang or a blow-up.
    expect(slowestMs).toBeLessThan(2000);
  });
});
