import { describe, expect, it } from "vitest";
import { withVirtType } from "../src/mod.ts";

describe("withVirtType", () => {
  it("switches the domain type and nothing else", () => {
    const xml = "<domain type='kvm'><name>a</name><devices/></domain>";
    const out = withVirtType(xml, "qemu");
    expect(out).toContain('type="qemu"');
    expect(out).toContain("<name>a</name>");
    expect(out).not.toContain("kvm");
  });

  it("writes the domain element anew from what it parsed, alone, also when the type is already right", () => {
    const xml =
      "<?xml version='1.0' encoding='UTF-7'?><domain type='qemu'><name>a+ADw-b</name></domain>";
    expect(withVirtType(xml, "qemu")).toBe('<domain type="qemu"><name>a+ADw-b</name></domain>');
  });

  it("refuses XML that is not a domain", () => {
    expect(() => withVirtType("<network/>", "kvm")).toThrow(/<domain>/);
  });
});
