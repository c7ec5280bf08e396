/**
 * Captures libvirt's real read-back XML for the test fixtures (needs libvirtd, qemu:///system):
 *
 *   node --conditions=headroom:source --import tsx packages/domain-xml/scripts/capture-fixtures.ts
 *
 * For q35 and pc it defines a domain with one virtio disk and two NICs, reads it back, adds
 * placeholders to that read-back, defines and reads back again, strips, redefines and reads back.
 * It also records the one-step flow (placeholders in the first define) that moves devices.
 * Paths in the spec are neutral: libvirt does not open them on define. Domains are undefined.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addPlaceholders, composeDomain, stripPlaceholders } from "../src/mod.ts";
import { fixtureSpec } from "../tests/fixture_spec.ts";

const fixtures = new URL("../tests/fixtures/", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "headroom-fixtures-"));
const virsh = (...args: string[]) =>
  execFileSync("virsh", ["-q", "-c", "qemu:///system", ...args], { encoding: "utf8" });

function defineXml(xml: string): void {
  const file = join(work, "domain.xml");
  writeFileSync(file, xml);
  virsh("define", file);
}

try {
  for (const machine of ["q35", "pc"] as const) {
    const name = `hrtest-dx-fixture-${machine}`;
    const save = (file: string, xml: string) => writeFileSync(join(fixtures, file), xml);
    try {
      const composed = composeDomain(fixtureSpec(machine, name));
      defineXml(composed);
      const defined = virsh("dumpxml", "--inactive", name);
      save(`${machine}-defined.xml`, defined);
      for (const count of [4, 32]) {
        defineXml(addPlaceholders(defined, count, "virtio-non-transitional"));
        const withPlaceholders = virsh("dumpxml", "--inactive", name);
        save(`${machine}-placeholders-${count}.xml`, withPlaceholders);
        defineXml(stripPlaceholders(withPlaceholders).xml);
        save(`${machine}-stripped-${count}.xml`, virsh("dumpxml", "--inactive", name));
        defineXml(defined);
      }
      virsh("undefine", name);
      // One step: placeholders in the very first define, as the seed describes it.
      defineXml(addPlaceholders(composed, 4, "virtio-non-transitional"));
      save(`${machine}-onestep-placeholders-4.xml`, virsh("dumpxml", "--inactive", name));
    } finally {
      try {
        virsh("undefine", name);
      } catch {
        // already undefined
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`fixtures written to ${fixtures}`);
