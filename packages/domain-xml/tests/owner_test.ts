import { describe, expect, it } from "vitest";
import { DomainSpecError, OWNER_XMLNS, ownerOf, withOwner } from "../src/mod.ts";

const UID = "0B9F7C1E-6A0F-4A8E-9D6B-0F7F9A1B2C3D";
const bare = "<domain type='qemu'>\n  <name>prod_db</name>\n  <devices/>\n</domain>";

describe("the owner mark", () => {
  it("is absent from a domain headroom did not mark", () => {
    expect(ownerOf(bare)).toBeUndefined();
  });

  it("reads back the VMI's uid, lowercase, in headroom's namespace", () => {
    const marked = withOwner(bare, UID);
    expect(marked).toContain(`xmlns:headroom="${OWNER_XMLNS}"`);
    expect(ownerOf(marked)).toBe(UID.toLowerCase());
  });

  it("is read by namespace, whatever prefix libvirt gives it", () => {
    const relabeled = `<domain><metadata><x:owner xmlns:x="${OWNER_XMLNS}" uid="${UID}"/></metadata></domain>`;
    expect(ownerOf(relabeled)).toBe(UID.toLowerCase());
  });

  it("is not forged by the same name in another namespace, nor by a uid that is not one", () => {
    const elsewhere = `<domain><metadata><headroom:owner xmlns:headroom="urn:other" uid="${UID}"/></metadata></domain>`;
    expect(ownerOf(elsewhere)).toBeUndefined();
    const noUid = `<domain><metadata><o:owner xmlns:o="${OWNER_XMLNS}" uid="../etc"/></metadata></domain>`;
    expect(ownerOf(noUid)).toBeUndefined();
  });

  it("replaces an earlier mark and keeps other metadata", () => {
    const other = `<domain><metadata><app:x xmlns:app="urn:app">keep</app:x></metadata></domain>`;
    const once = withOwner(other, UID);
    const twice = withOwner(once, "11111111-2222-3333-4444-555555555555");
    expect(ownerOf(twice)).toBe("11111111-2222-3333-4444-555555555555");
    expect(twice.match(/<[a-z]+:owner /g)).toHaveLength(1);
    expect(twice).toContain("keep");
  });

  it("refuses a uid that is not a UUID", () => {
    expect(() => withOwner(bare, "x'/><evil/>")).toThrow(DomainSpecError);
  });
});
