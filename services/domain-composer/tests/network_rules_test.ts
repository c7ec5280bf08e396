import { describe, expect, it } from "vitest";
import {
  bridgeNameProblem,
  decideCreate,
  inUseMessage,
  missingNetworkMessage,
  networkNameProblem,
  networksUsedBy,
} from "../src/mod.ts";
import { seedVmi } from "./fixtures.ts";

describe("networkNameProblem", () => {
  it("takes DNS-1123 labels", () => {
    for (const name of ["a", "headroom-bridge", "lab1", "0net", "a".repeat(63)])
      expect(networkNameProblem(name), name).toBeNull();
  });

  it("refuses anything else, saying what a name may be", () => {
    expect(networkNameProblem("")).toBe("name is required");
    for (const name of [
      "Lab",
      "-a",
      "a-",
      "a.b",
      "a_b",
      "a/b",
      "a b",
      "a".repeat(64),
      "é",
      ">",
      "*",
    ])
      expect(networkNameProblem(name), name).toMatch(/is not a DNS-1123 label/);
  });
});

describe("bridgeNameProblem", () => {
  it("takes Linux interface names of 1 to 15 letters, digits, '_' and '-'", () => {
    for (const bridge of ["br0", "virbr-lab", "BR_1", "a", "b".repeat(15)])
      expect(bridgeNameProblem(bridge), bridge).toBeNull();
  });

  it("refuses the rest", () => {
    expect(bridgeNameProblem("")).toBe("bridge is required");
    for (const bridge of [".", "..", "br.0", "br/0", "br 0", "b".repeat(16), "br:0", "brü"])
      expect(bridgeNameProblem(bridge), bridge).toMatch(/is not a Linux interface name/);
    expect(bridgeNameProblem("lo")).toBe('bridge "lo" is the loopback interface, not a bridge');
  });
});

describe("decideCreate", () => {
  const lab = { name: "lab", bridge: "br-lab" };

  it("creates what is not stored", () => {
    expect(decideCreate(lab, null)).toEqual({ kind: "create" });
  });

  it("is unchanged with the same bridge", () => {
    expect(decideCreate(lab, { bridge: "br-lab" })).toEqual({ kind: "unchanged" });
  });

  it("refuses another bridge: a bridge cannot change", () => {
    const decision = decideCreate(lab, { bridge: "br-old" });
    expect(decision).toEqual({
      kind: "conflict",
      error:
        "network attachment 'lab' exists with bridge 'br-old' and its bridge cannot change; " +
        "delete it first (headroom delete network lab), then create it again",
    });
  });

  it("names every problem of an invalid request, before looking at what is stored", () => {
    const decision = decideCreate({ name: "Lab", bridge: "lo" }, { bridge: "br-lab" });
    expect(decision.kind).toBe("invalid");
    expect(decision.kind === "invalid" && decision.error).toMatch(
      /^name "Lab" is not a DNS-1123 label.*; bridge "lo" is the loopback interface/,
    );
  });
});

describe("networksUsedBy", () => {
  it("lists the multus networkNames of a VMI once each", () => {
    const vmi = seedVmi((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
      doc.spec.networks.push({ name: "third", multus: { networkName: "headroom-bridge" } });
    });
    expect(networksUsedBy(vmi)).toEqual(["headroom-bridge"]);
    expect(networksUsedBy({ spec: { ...vmi.spec, networks: [] } })).toEqual([]);
  });
});

describe("messages", () => {
  it("say which VMIs hold a network and how to create a missing one", () => {
    expect(inUseMessage("lab", ["a/one"])).toBe(
      "network attachment 'lab' is used by vmi a/one; delete them or remove their interfaces on it first",
    );
    expect(inUseMessage("lab", ["a/one", "b/two"])).toContain("used by vmis a/one, b/two;");
    expect(missingNetworkMessage("lab")).toBe(
      "network attachment 'lab' does not exist; create it with: headroom network create lab --bridge BRIDGE",
    );
  });
});
