import { hostname } from "node:os";
import { nodeNameProblem } from "@headroom/labels";
import { describe, expect, it } from "vitest";
import { hostIdentity } from "../src/host_flags.ts";
import { defaultHostLabels, versionText } from "../src/host_record.ts";

describe("a launcher's host identity", () => {
  it("takes --node and every --label, over the environment", () => {
    const env = { HEADROOM_NODE_NAME: "from-env", HEADROOM_NODE_LABELS: "zone=a" };
    expect(
      hostIdentity(["--node", "hv-1", "--label", "disktype=ssd", "--label", "gpu="], env),
    ).toEqual({
      node: "hv-1",
      labels: { disktype: "ssd", gpu: "" },
      heartbeatMs: 10_000,
      lostAfterMs: 300_000,
    });
  });

  it("falls back to the environment, then to the host name", () => {
    expect(
      hostIdentity([], {
        HEADROOM_NODE_NAME: "hv-2",
        HEADROOM_NODE_LABELS: "zone=a, rack=r1",
        HEADROOM_HEARTBEAT_MS: "500",
        HEADROOM_NODE_LOST_AFTER_MS: "4000",
      }),
    ).toEqual({
      node: "hv-2",
      labels: { zone: "a", rack: "r1" },
      heartbeatMs: 500,
      lostAfterMs: 4000,
    });
    expect(hostIdentity([], {})).toMatchObject({ node: hostname(), labels: {} });
  });

  it("refuses a bad name, label, heartbeat or flag, naming it", () => {
    expect(() => hostIdentity(["--node", "HV_1"], {})).toThrow(/node name "HV_1" must be/);
    expect(() => hostIdentity([], { HEADROOM_NODE_NAME: "a".repeat(64) })).toThrow(
      /must be 1 to 63 .*: pass --node NAME/,
    );
    expect(() => hostIdentity(["--label", "zone"], {})).toThrow('label "zone" is not key=value');
    expect(() => hostIdentity([], { HEADROOM_HEARTBEAT_MS: "5" })).toThrow(
      /HEADROOM_HEARTBEAT_MS=5 must be/,
    );
    expect(() => hostIdentity([], { HEADROOM_NODE_LOST_AFTER_MS: "soon" })).toThrow(
      /HEADROOM_NODE_LOST_AFTER_MS=soon must be/,
    );
    expect(() => hostIdentity(["--nod", "x"], {})).toThrow(/--nod/);
    expect(hostIdentity(["--help"], {})).toBe("help");
  });

  it("gives every host Kubernetes' node labels", () => {
    expect(defaultHostLabels("hv-1")).toEqual({
      "kubernetes.io/hostname": "hv-1",
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
    });
    expect(nodeNameProblem("hv-1.example")).toBeUndefined();
  });

  it("spells libvirt's version numbers", () => {
    expect(versionText(9_000_000)).toBe("9.0.0");
    expect(versionText(7_002_011)).toBe("7.2.11");
  });
});
