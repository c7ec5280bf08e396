// metadata.annotations (stored and shown, acted on by nothing, free to change)
// and label selectors as `headroom get vmi -l` takes them.
import { describe, expect, it } from "vitest";
import {
  MAX_ANNOTATIONS_BYTES,
  matchesLabels,
  parseLabelSelector,
  validateUpdate,
  validateVmi,
} from "../src/mod.ts";
import { baseVmi, type Doc } from "./helpers.ts";

function withAnnotations(annotations: unknown): Doc {
  const doc = baseVmi();
  doc.metadata.annotations = annotations;
  return doc;
}

describe("metadata.annotations", () => {
  it("are kept as written, any text as values", () => {
    const annotations = { "kubevirt.io/latest-observed-api-version": "v1", note: "a b\nc ✓" };
    const result = validateVmi(withAnnotations(annotations));
    expect(result.errors).toEqual([]);
    expect(result.vmi?.metadata.annotations).toEqual(annotations);
  });

  it("may change once the VMI is stored; no new generation changes anything else", () => {
    const stored = validateVmi(withAnnotations({ note: "one" })).vmi;
    if (!stored) throw new Error("the base VMI is valid");
    const result = validateUpdate(stored, withAnnotations({ note: "two", other: "x" }));
    expect(result.errors).toEqual([]);
    expect(result.vmi?.metadata.annotations).toEqual({ note: "two", other: "x" });
  });

  it("refuse a key that is not a label key, and values that are not text, naming the field", () => {
    const badKey = validateVmi(withAnnotations({ "bad key": "x" }));
    expect(badKey.errors.map((error) => error.field)).toEqual(["metadata.annotations[bad key]"]);
    const badValue = validateVmi(withAnnotations({ note: 5 }));
    expect(badValue.errors.map((error) => error.field)).toEqual(["metadata.annotations.note"]);
  });

  it("refuse more than 256 KiB in all, saying how much", () => {
    const big = { a: "x".repeat(MAX_ANNOTATIONS_BYTES), b: "y" };
    const result = validateVmi(withAnnotations(big));
    expect(result.errors).toEqual([
      {
        field: "metadata.annotations",
        message: `metadata.annotations hold ${MAX_ANNOTATIONS_BYTES + 3} bytes; all of them together may hold at most 262144 (256 KiB)`,
      },
    ]);
  });
});

describe("label selectors", () => {
  const labels = { app: "web", tier: "front", "example.com/team": "a" };
  const matchesOf = (selector: string, of: Record<string, string> | undefined) => {
    const parsed = parseLabelSelector(selector);
    if (!parsed.ok) throw new Error(parsed.message);
    return matchesLabels(of, parsed.requirements);
  };
  const matches = (selector: string) => matchesOf(selector, labels);

  it.each([
    ["app=web", true],
    ["app==web", true],
    ["app=db", false],
    ["app!=db", true],
    ["app!=web", false],
    ["missing!=x", true],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["app in (web, db)", true],
    ["app notin (web,db)", false],
    ["missing notin (web)", true],
    ["app=web,tier=front", true],
    ["app=web,tier=back", false],
    ["example.com/team=a", true],
    ["app=", false],
  ])("%s → %s", (selector, expected) => {
    expect(matches(selector)).toBe(expected);
  });

  it("match a VMI without labels only where nothing must exist", () => {
    expect(matchesOf("!app", undefined)).toBe(true);
    expect(matchesOf("app", undefined)).toBe(false);
    expect(matchesOf("app!=web", undefined)).toBe(true);
  });

  it.each([
    ["", "empty requirement"],
    ["app=web,", "empty requirement"],
    ["app in (web", "unbalanced parentheses"],
    ["Bad Key=x", "is not a label key"],
    ["app=-web", "is not a label value"],
    ["app in (web,-x)", "is not a label value"],
    ["app in ()", "in needs at least one value"],
    ["app notin ( )", "notin needs at least one value"],
  ])("refuse %j, saying what is wrong", (selector, message) => {
    const parsed = parseLabelSelector(selector);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.message).toContain(message);
  });
});
