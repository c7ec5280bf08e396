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

  it("returns the same text when the type is already right", () => {
    const xml = "<domain type='qemu'><name>a</name></domain>";
    expect(withVirtType(xml, "qemu")).toBe(xml);
  });

  it("refuses XML that is not a domain", () => {
    expect(() => withVirtType("<network/>", "kvm")).toThrow(/<domain>/);
  });
});
