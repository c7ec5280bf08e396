import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  parseDocument,
  type Vmi,
  validateUpdate,
  validateVmi,
  withInterfaceAdded,
  withInterfaceRemoved,
} from "../src/mod.ts";

const seed = validateVmi(
  parseDocument(readFileSync(new URL("../../../examples/vmi-seed.yaml", import.meta.url), "utf8")),
).vmi as Vmi;

describe("withInterfaceAdded", () => {
  it("adds a bridged interface on a network attachment, and the update is allowed", () => {
    const next = withInterfaceAdded(seed, { name: "third", networkName: "headroom-bridge" });
    expect(next.spec.domain.devices.interfaces.map((i) => i.name)).toEqual([
      "default",
      "secondary",
      "third",
    ]);
    expect(next.spec.networks.at(-1)).toEqual({
      name: "third",
      multus: { networkName: "headroom-bridge" },
    });
    const result = validateUpdate(seed, next);
    expect(result.errors).toEqual([]);
    expect(result.capacity?.effective).toBe(5);
    // The stored VMI is untouched.
    expect(seed.spec.domain.devices.interfaces).toHaveLength(2);
  });

  it("adding a name that exists gives an update the rules refuse", () => {
    const next = withInterfaceAdded(seed, { name: "secondary", networkName: "headroom-bridge" });
    const result = validateUpdate(seed, next);
    expect(result.valid).toBe(false);
    expect(result.errors.map((e) => e.field).join(" ")).toContain("spec.domain.devices.interfaces");
  });

  it("a second pod network is refused", () => {
    const next = withInterfaceAdded(seed, { name: "podtwo", networkName: "pod" });
    expect(validateUpdate(seed, next).valid).toBe(false);
  });
});

describe("withInterfaceRemoved", () => {
  it("removes the interface and its network", () => {
    const next = withInterfaceRemoved(seed, "secondary") as Vmi;
    expect(next.spec.domain.devices.interfaces.map((i) => i.name)).toEqual(["default"]);
    expect(next.spec.networks.map((n) => n.name)).toEqual(["default"]);
    expect(validateUpdate(seed, next).valid).toBe(true);
  });

  it("returns undefined for an interface the VMI does not have", () => {
    expect(withInterfaceRemoved(seed, "nope")).toBeUndefined();
  });
});
