// chooseHost, the pure placement decision: which hosts may run a VMI, which
// one it goes to, and the words a Pending VMI shows.
import { HostCondition, HostRecord } from "@headroom/proto";
import type { NodeAffinity } from "@headroom/vmi";
import { describe, expect, it } from "vitest";
import { chooseHost, type Demand, type Load } from "../src/placement.ts";

const NOW = 1_000_000_000;
const GIB = 1024 ** 3;

function host(node: string, change: Partial<HostRecord> = {}): HostRecord {
  return HostRecord.create({
    node,
    labels: { "kubernetes.io/hostname": node },
    condition: HostCondition.HOST_CONDITION_READY,
    updatedUnixMs: NOW,
    heartbeatMs: 10_000,
    memoryBytes: 8 * GIB,
    machineTypes: ["pc", "q35"],
    ...change,
  });
}

function demand(change: Partial<Demand> = {}): Demand {
  return {
    memoryBytes: GIB,
    machineType: "q35",
    nodeSelector: {},
    nodeAffinity: undefined,
    ...change,
  };
}

const none = new Map<string, Load>();

describe("chooseHost", () => {
  it("spreads: the host with the fewest VMIs, then the most memory left, then by name", () => {
    const hosts = [host("a"), host("b"), host("c")];
    expect(chooseHost(demand(), hosts, none, NOW)).toEqual({ node: "a" });
    const loads = new Map<string, Load>([
      ["a", { vmis: 2, memoryBytes: 2 * GIB }],
      ["b", { vmis: 1, memoryBytes: 4 * GIB }],
      ["c", { vmis: 1, memoryBytes: 1 * GIB }],
    ]);
    expect(chooseHost(demand(), hosts, loads, NOW)).toEqual({ node: "c" });
  });

  it("places 30 VMIs on 3 hosts 10 each when each placement counts", () => {
    const hosts = [host("a"), host("b"), host("c")];
    const loads = new Map<string, Load>();
    for (let i = 0; i < 30; i++) {
      const choice = chooseHost(demand({ memoryBytes: 64 * 1024 ** 2 }), hosts, loads, NOW);
      if (!("node" in choice)) throw new Error(choice.pending);
      const load = loads.get(choice.node) ?? { vmis: 0, memoryBytes: 0 };
      loads.set(choice.node, { vmis: load.vmis + 1, memoryBytes: load.memoryBytes + 64 });
    }
    expect([...loads.values()].map((load) => load.vmis)).toEqual([10, 10, 10]);
  });

  it("takes only Ready hosts: a silent one or one that says NotReady is passed over", () => {
    const hosts = [
      host("quiet", { updatedUnixMs: NOW - 31_000 }),
      host("down", { condition: HostCondition.HOST_CONDITION_NOT_READY, reason: "libvirt" }),
      host("up"),
    ];
    expect(chooseHost(demand(), hosts, none, NOW)).toEqual({ node: "up" });
  });

  it("honors nodeSelector", () => {
    const hosts = [host("a"), host("b", { labels: { disk: "ssd" } })];
    expect(chooseHost(demand({ nodeSelector: { disk: "ssd" } }), hosts, none, NOW)).toEqual({
      node: "b",
    });
  });

  it("honors required node affinity: any term, every expression, fields on metadata.name", () => {
    const hosts = [
      host("a", { labels: { zone: "east", cores: "4" } }),
      host("b", { labels: { zone: "west", cores: "16" } }),
      host("c", { labels: { zone: "west", cores: "2" } }),
    ];
    const required = (affinity: NodeAffinity["requiredDuringSchedulingIgnoredDuringExecution"]) =>
      demand({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: affinity } });
    const west8 = required({
      nodeSelectorTerms: [
        {
          matchExpressions: [
            { key: "zone", operator: "In", values: ["west"] },
            { key: "cores", operator: "Gt", values: ["8"] },
          ],
        },
      ],
    });
    expect(chooseHost(west8, hosts, none, NOW)).toEqual({ node: "b" });
    const byName = required({
      nodeSelectorTerms: [
        { matchFields: [{ key: "metadata.name", operator: "In", values: ["nowhere"] }] },
        { matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["a", "b"] }] },
      ],
    });
    expect(chooseHost(byName, hosts, none, NOW)).toEqual({ node: "c" });
    const lacking = required({
      nodeSelectorTerms: [{ matchExpressions: [{ key: "gpu", operator: "Exists" }] }],
    });
    expect(chooseHost(lacking, hosts, none, NOW)).toEqual({
      pending: "0/3 hosts can run it: 3 do not match node affinity",
    });
  });

  it("prefers hosts by the weights of the preferences they match, before spreading", () => {
    const hosts = [host("a"), host("b", { labels: { zone: "west" } })];
    const loads = new Map<string, Load>([["b", { vmis: 5, memoryBytes: 0 }]]);
    const nodeAffinity: NodeAffinity = {
      preferredDuringSchedulingIgnoredDuringExecution: [
        {
          weight: 50,
          preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["west"] }] },
        },
      ],
    };
    expect(chooseHost(demand({ nodeAffinity }), hosts, loads, NOW)).toEqual({ node: "b" });
  });

  it("counts memory placed already, and the machine type the host offers", () => {
    const hosts = [host("full"), host("old", { machineTypes: ["pc"] })];
    const loads = new Map<string, Load>([["full", { vmis: 1, memoryBytes: 7.5 * GIB }]]);
    expect(chooseHost(demand(), hosts, loads, NOW)).toEqual({
      pending: "0/2 hosts can run it: 1 lack memory, 1 lack its machine type",
    });
    expect(chooseHost(demand({ machineType: "pc" }), hosts, loads, NOW)).toEqual({ node: "old" });
  });

  it("says why nothing can run it, counting each host once by its first refusal", () => {
    const hosts = [
      host("a", { condition: HostCondition.HOST_CONDITION_NOT_READY }),
      host("b"),
      host("c"),
    ];
    expect(chooseHost(demand({ nodeSelector: { disk: "ssd" } }), hosts, none, NOW)).toEqual({
      pending: "0/3 hosts can run it: 1 NotReady, 2 do not match nodeSelector",
    });
    expect(chooseHost(demand(), [], none, NOW)).toEqual({
      pending: "no host has joined: start a launcher (headroom up)",
    });
  });
});
