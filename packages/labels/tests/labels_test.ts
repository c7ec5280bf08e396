import { describe, expect, it } from "vitest";
import { matchesLabels, parseLabel, parseLabelSelector } from "../src/mod.ts";

describe("parseLabel", () => {
  it("splits key=value at the first '='; the value may be empty", () => {
    expect(parseLabel("disktype=ssd")).toEqual(["disktype", "ssd"]);
    expect(parseLabel("topology.kubernetes.io/zone=eu-1")).toEqual([
      "topology.kubernetes.io/zone",
      "eu-1",
    ]);
    expect(parseLabel("gpu=")).toEqual(["gpu", ""]);
  });

  it("names what is wrong", () => {
    expect(() => parseLabel("ssd")).toThrow('label "ssd" is not key=value');
    expect(() => parseLabel("-bad=x")).toThrow(/"-bad" is not a label key/);
    expect(() => parseLabel("a=b=c")).toThrow(/"b=c" is not a label value/);
    expect(() => parseLabel(`a=${"x".repeat(64)}`)).toThrow(/is not a label value/);
  });
});

describe("label selectors", () => {
  it("match host labels as they match VMI labels", () => {
    const parsed = parseLabelSelector("disktype=ssd,!gpu");
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(matchesLabels({ disktype: "ssd" }, parsed.requirements)).toBe(true);
    expect(matchesLabels({ disktype: "ssd", gpu: "" }, parsed.requirements)).toBe(false);
    expect(matchesLabels({ disktype: "hdd" }, parsed.requirements)).toBe(false);
  });
});
