// Whatever validateVmi accepts, the composer can compose: generated variants of the seed
// example that pass validation become a DomainSpec and libvirt XML that parses and holds
// nothing the VMI did not ask for. Seeded: HEADROOM_FUZZ_SEED replays a run.
import { readFileSync } from "node:fs";
import { composeDomain, domainSpecFromVmi, type HostPlacement } from "@headroom/domain-xml";
import { parseDocument, type Vmi, validateVmi } from "@headroom/vmi";
import { DOMParser, type Element } from "@xmldom/xmldom";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const SEED = Number(process.env.HEADROOM_FUZZ_SEED ?? 20261128);

// biome-ignore lint/suspicious/noExplicitAny: generated documents are edited freely.
type Doc = any;

const SEED_EXAMPLE = parseDocument(
  readFileSync(new URL("../../../examples/vmi-seed.yaml", import.meta.url), "utf8"),
) as Doc;

/** Every element name composeDomain writes; anything else in the XML came from the input. */
const COMPOSED_ELEMENTS = new Set([
  "domain",
  "name",
  "uuid",
  "title",
  "description",
  "memory",
  "vcpu",
  "os",
  "type",
  "kernel",
  "initrd",
  "cmdline",
  "boot",
  "features",
  "acpi",
  "apic",
  "clock",
  "on_poweroff",
  "on_reboot",
  "on_crash",
  "devices",
  "disk",
  "driver",
  "source",
  "target",
  "readonly",
  "alias",
  "controller",
  "interface",
  "mac",
  "model",
  "serial",
  "log",
  "console",
  "rng",
  "backend",
]);

const METACHARACTERS = [
  "<hostdev mode='subsystem'/>",
  "</cmdline></os><devices><hostdev/></devices><os><cmdline>",
  "&amp; &lt; &#x41; &unknown;",
  "]]><evil/><![CDATA[",
  "<?xml version='1.0'?>",
  "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;",
  "$(reboot) `id` ; rm -rf / | cat > /etc/x && echo",
  "'\"'\"",
  "é ü 漢字 🦄 \u202e",
  "console=ttyS0 init=/bin/sh",
];

const nastyText = fc.oneof(
  fc.constantFrom(...METACHARACTERS),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.array(fc.constantFrom(...METACHARACTERS), { maxLength: 8 }).map((parts) => parts.join(" ")),
);

/** Where a string may legitimately carry such text, with what else makes a valid VMI. */
const acceptedVariants: fc.Arbitrary<Doc> = fc
  .record({
    kernelArgs: nastyText,
    name: fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
    namespace: fc.option(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/), {
      nil: undefined,
    }),
    request: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constantFrom("5", "32", "10000m")),
    bridged: fc.integer({ min: 0, max: 31 }),
    mac: fc.option(
      fc
        .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
        .map((bytes) => bytes.map((b) => b.toString(16).padStart(2, "0")).join(":")),
      { nil: undefined },
    ),
    machine: fc.constantFrom(undefined, "q35", "pc"),
    rng: fc.boolean(),
    bus: fc.constantFrom("virtio", "sata", "scsi"),
    label: fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/),
  })
  .map((v) => {
    const doc = structuredClone(SEED_EXAMPLE);
    doc.metadata.name = v.name;
    if (v.namespace !== undefined) doc.metadata.namespace = v.namespace;
    doc.metadata.labels = { "example.com/app": v.label };
    doc.spec.domain.firmware.kernelBoot.kernelArgs = v.kernelArgs;
    doc.spec.domain.resources.requests["kubevirt.io/interface"] = v.request;
    if (v.machine !== undefined) doc.spec.domain.machine = { type: v.machine };
    if (!v.rng) delete doc.spec.domain.devices.rng;
    doc.spec.domain.devices.disks[0].disk.bus = v.bus;
    if (v.mac !== undefined) doc.spec.domain.devices.interfaces[0].macAddress = v.mac;
    for (let i = 0; i < v.bridged; i++) {
      doc.spec.domain.devices.interfaces.push({ name: `extra-${i}`, bridge: {} });
      doc.spec.networks.push({ name: `extra-${i}`, multus: { networkName: `net-${i % 3}` } });
    }
    return doc;
  });

/** The seed example with one leaf replaced by a nasty value: most are refused, the rest must compose. */
const mutatedSeed: fc.Arbitrary<Doc> = fc
  .tuple(
    fc.nat(),
    fc.oneof(
      nastyText,
      fc.constantFrom<unknown>(0, 1, 32, 33, 64, 65, -1, 1.5, "128Mi", "64Gi", "16Mi", null, {}),
    ),
  )
  .map(([pick, value]) => {
    const doc = structuredClone(SEED_EXAMPLE);
    const leaves: { parent: Doc; key: string | number }[] = [];
    const walk = (node: Doc) => {
      for (const [key, child] of Object.entries(node)) {
        if (typeof child === "object" && child !== null) walk(child);
        else leaves.push({ parent: node, key: Array.isArray(node) ? Number(key) : key });
      }
    };
    walk(doc);
    const leaf = leaves[pick % leaves.length] as { parent: Doc; key: string | number };
    leaf.parent[leaf.key] = value;
    return doc;
  });

/** What a host would have resolved for this VMI; fixed paths, one bridge per multus network. */
function placementFor(vmi: Vmi): HostPlacement {
  return {
    uuid: "6f1c2b8e-3d4a-4b5c-9e6f-7a8b9c0d1e2f",
    virtType: "qemu",
    volumes: Object.fromEntries(
      vmi.spec.volumes.map((v) => [
        v.name,
        { path: "/var/lib/headroom/disk.qcow2", format: "qcow2" },
      ]),
    ),
    kernel: { kernelPath: "/var/lib/headroom/vmlinuz", initrdPath: "/var/lib/headroom/initrd.img" },
    bridges: Object.fromEntries(
      vmi.spec.networks.flatMap((n) => (n.multus ? [[n.multus.networkName, "hrfuzz0"]] : [])),
    ),
    serialConsoleLogPath: "/var/log/headroom/console.log",
  };
}

function parseStrict(xml: string) {
  const problems: string[] = [];
  const doc = new DOMParser({
    onError: (level, message) => {
      if (level !== "warning") problems.push(message);
    },
  }).parseFromString(xml, "text/xml");
  expect(problems).toEqual([]);
  return doc;
}

const counts = { accepted: 0, refused: 0 };

function composeIfValid(doc: Doc): void {
  const result = validateVmi(doc);
  if (!result.valid || result.vmi === null) {
    counts.refused++;
    expect(result.errors.length).toBeGreaterThan(0);
    return;
  }
  counts.accepted++;
  const vmi = result.vmi;
  const xml = composeDomain(domainSpecFromVmi(vmi, placementFor(vmi)));
  const parsed = parseStrict(xml);
  const root = parsed.documentElement as Element;
  expect(root.tagName).toBe("domain");
  const elements = Array.from(root.getElementsByTagName("*"));
  for (const element of elements) expect(COMPOSED_ELEMENTS.has(element.tagName)).toBe(true);
  const count = (tag: string) => root.getElementsByTagName(tag).length;
  expect(count("interface")).toBe(vmi.spec.domain.devices.interfaces.length);
  expect(count("disk")).toBe(vmi.spec.domain.devices.disks.length);
  expect(count("rng")).toBe(vmi.spec.domain.devices.rng === undefined ? 0 : 1);
  expect(count("domain")).toBe(0);
  // Bounded: a fixed frame plus a few elements per device.
  expect(elements.length).toBeLessThan(40 + 8 * (vmi.spec.domain.devices.interfaces.length + 16));
  // Text the user gave comes back as the same text, never as markup.
  const kernelArgs = vmi.spec.domain.firmware?.kernelBoot?.kernelArgs;
  const cmdline = root.getElementsByTagName("cmdline")[0];
  if (kernelArgs !== undefined && kernelArgs !== "") expect(cmdline?.textContent).toBe(kernelArgs);
  expect(root.getElementsByTagName("title")[0]?.textContent).toBe(
    `${vmi.metadata.namespace}/${vmi.metadata.name}`,
  );
}

describe("composing whatever validateVmi accepts", () => {
  it("2,000 valid variants with XML and shell metacharacters and unicode compose to clean XML", () => {
    fc.assert(fc.property(acceptedVariants, composeIfValid), { seed: SEED, numRuns: 2000 });
    // Text with control characters is refused; the rest must compose.
    expect(counts.accepted).toBeGreaterThan(800);
  });

  it("3,000 seed examples with one leaf replaced: refused, or composed to clean XML", () => {
    fc.assert(fc.property(mutatedSeed, composeIfValid), { seed: SEED, numRuns: 3000 });
    console.log(`compose fuzz: ${counts.accepted} composed, ${counts.refused} refused`);
    expect(counts.accepted + counts.refused).toBe(5000);
  });
});
