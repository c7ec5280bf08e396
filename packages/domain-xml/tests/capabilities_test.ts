import { describe, expect, it } from "vitest";
import { DomainXmlError, machineTypes } from "../src/mod.ts";

const CAPABILITIES = `<capabilities>
  <host><cpu><arch>x86_64</arch></cpu></host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <machine maxCpus='255'>pc-i440fx-6.0</machine>
    </arch>
  </guest>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <machine maxCpus='255'>pc-i440fx-7.2</machine>
      <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
      <machine maxCpus='288'>pc-q35-10.0</machine>
      <machine maxCpus='288'>pc-q35-7.2</machine>
      <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
      <machine maxCpus='255' deprecated='yes'>pc-i440fx-1.5</machine>
      <domain type='qemu'/>
      <domain type='kvm'><machine maxCpus='288'>microvm</machine></domain>
    </arch>
  </guest>
</capabilities>`;

describe("machineTypes", () => {
  it("lists the short names first, then the versioned ones in version order, no deprecated one", () => {
    expect(machineTypes(CAPABILITIES)).toEqual([
      "pc",
      "q35",
      "microvm",
      "pc-i440fx-7.2",
      "pc-q35-7.2",
      "pc-q35-10.0",
    ]);
  });

  it("keeps to the architecture asked for", () => {
    expect(machineTypes(CAPABILITIES, "i686")).toEqual(["pc-i440fx-6.0"]);
    expect(machineTypes(CAPABILITIES, "aarch64")).toEqual([]);
  });

  it("refuses XML that is not well-formed, saying what it is", () => {
    expect(() => machineTypes("<capabilities>")).toThrow(DomainXmlError);
    expect(() => machineTypes("<capabilities>")).toThrow(/capabilities XML/);
  });
});
