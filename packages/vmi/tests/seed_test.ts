import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateVmi } from "../src/mod.ts";
import { fixture } from "./helpers.ts";

// The example of the seed design, kept verbatim in fixtures/seed-example.yaml (but for one
// trailing space the formatter strips).
describe("the seed design's example", () => {
  it("is kept verbatim, rng under spec.domain and all", () => {
    const text = readFileSync(new URL("./fixtures/seed-example.yaml", import.meta.url), "utf8");
    expect(text).toContain("    rng: {}\n  networks:");
    expect(text).toContain("kubevirt.io/interface: 5");
  });

  it("validates with effective capacity 5", () => {
    const result = validateVmi(fixture("seed-example.yaml"));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.capacity).toEqual({ requested: 5, interfaces: 2, effective: 5 });
  });

  it("normalizes to KubeVirt's layout and headroom's defaults", () => {
    const vmi = validateVmi(fixture("seed-example.yaml")).vmi;
    expect(vmi?.metadata).toEqual({ name: "vmi-iface-request-example", namespace: "default" });
    expect(vmi?.spec.domain.devices.rng).toEqual({});
    expect(vmi?.spec.domain.machine).toEqual({ type: "q35" });
    expect(vmi?.spec.domain.memory).toEqual({ guest: "128Mi" });
    expect(vmi?.spec.domain.devices.interfaces).toEqual([
      { name: "default", model: "virtio", masquerade: {} },
      { name: "secondary", model: "virtio", bridge: {} },
    ]);
    expect(vmi?.spec.networks[1]).toEqual({
      name: "secondary",
      multus: { networkName: "some-nad" },
    });
  });
});
