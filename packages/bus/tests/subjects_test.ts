import { describe, expect, it } from "vitest";
import {
  acceptedSubject,
  capacitySubject,
  fromSubjectToken,
  parseStoreKey,
  storeKey,
  subjectToken,
} from "../src/mod.ts";

const awkward = [
  "",
  "=",
  "a.b",
  "*",
  ">",
  "a b",
  "tab\there",
  "line\nbreak",
  "\u0000nul",
  "ünïcode",
  "emoji 🚀",
  "$SRV",
  "x=41",
  "..",
  "%2E",
];

describe("subjectToken", () => {
  it("leaves DNS labels as they are", () => {
    for (const label of ["default", "vm-1", "a", "x0-y9", "Kube_Name"]) {
      expect(subjectToken(label)).toBe(label);
    }
  });

  it("turns any string into one safe token and back", () => {
    const seen = new Set<string>();
    for (const value of awkward) {
      const token = subjectToken(value);
      expect(token, JSON.stringify(value)).toMatch(/^[A-Za-z0-9_=-]+$/);
      expect(fromSubjectToken(token)).toBe(value);
      seen.add(token);
    }
    expect(seen.size).toBe(awkward.length);
  });

  it("encodes the escape character itself, so encodings cannot collide", () => {
    expect(subjectToken("=41")).not.toBe(subjectToken("A"));
    expect(fromSubjectToken("=41")).toBe("A");
  });

  it("refuses tokens it did not make", () => {
    for (const bad of ["a.b", "*", "=4", "=zz", "a b", "", "=FF"]) {
      expect(() => fromSubjectToken(bad), bad).toThrow();
    }
  });
});

describe("keys and subjects", () => {
  it("builds <ns>.<name> keys and subjects that parse back", () => {
    expect(storeKey("default", "vm1")).toBe("default.vm1");
    expect(acceptedSubject("default", "vm1")).toBe("headroom.pipeline.accepted.default.vm1");
    expect(capacitySubject("a.b", "*")).toBe("headroom.capacity.a=2Eb.=2A");
    expect(parseStoreKey(storeKey("a.b", "c d"))).toEqual({ namespace: "a.b", name: "c d" });
    expect(parseStoreKey(acceptedSubject("ns", "n"))).toEqual({ namespace: "ns", name: "n" });
    expect(() => parseStoreKey("single")).toThrow();
  });
});
