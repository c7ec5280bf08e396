import { describe, expect, it } from "vitest";
import { InvalidImageRefError, imageKey, validateImageRef } from "../src/mod.ts";

describe("validateImageRef", () => {
  it("accepts registry references", () => {
    for (const ref of [
      "headroom/tiny-guest",
      "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0",
      "registry:5000/a/b@sha256:0123456789abcdef",
    ]) {
      expect(validateImageRef(ref)).toBe(ref);
    }
  });

  it("rejects empty, blank, control characters and overlong references with the reason", () => {
    expect(() => validateImageRef("")).toThrow(/is invalid: it is empty/);
    expect(() => validateImageRef("a b")).toThrow(/whitespace or control characters/);
    expect(() => validateImageRef("a\nb")).toThrow(InvalidImageRefError);
    expect(() => validateImageRef("a\u0000b")).toThrow(InvalidImageRefError);
    expect(() => validateImageRef("x".repeat(1025))).toThrow(/longer than 1024/);
    expect(() => validateImageRef(42)).toThrow(/must be a string/);
  });
});

describe("imageKey", () => {
  it("keeps common characters readable and encodes the separator", () => {
    expect(imageKey("headroom/tiny-guest")).toBe("headroom%2Ftiny-guest");
    expect(imageKey("quay.io/a/b:v1.0")).toBe("quay.io%2Fa%2Fb%3Av1.0");
  });

  it("never yields a name that climbs, hides or nests", () => {
    const tricky = [
      ".",
      "..",
      "../..",
      "../../etc/passwd",
      "/etc/passwd",
      ".hidden",
      "a/../../b",
      "..%2F..",
      "a\\..\\b",
      "~root",
    ];
    for (const ref of tricky) {
      const key = imageKey(ref);
      expect(key).not.toContain("/");
      expect(key).not.toContain("\\");
      expect(key.startsWith(".")).toBe(false);
      expect(key.length).toBeGreaterThan(0);
    }
    expect(imageKey("..")).toBe("%2E.");
  });

  it("is injective on distinct references, also for different byte encodings", () => {
    const refs = ["a/b", "a%2Fb", "a_b", "a-b", "é", "%C3%A9", ".a", "%2Ea"];
    const keys = new Set(refs.map(imageKey));
    expect(keys.size).toBe(refs.length);
  });

  it("cuts very long references to one short path component that stays unique", () => {
    const base = "registry.example/".repeat(40);
    const first = imageKey(`${base}one`);
    const second = imageKey(`${base}two`);
    expect(first.length).toBeLessThanOrEqual(200);
    expect(second.length).toBeLessThanOrEqual(200);
    expect(first).not.toBe(second);
    expect(first).toMatch(/~[0-9a-f]{40}$/);
  });
});
