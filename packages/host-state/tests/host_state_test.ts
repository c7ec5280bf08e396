import { describe, expect, it } from "vitest";
import { domainNameOf, hostState } from "../src/mod.ts";

describe("hostState", () => {
  it("defaults to /var/lib/headroom", () => {
    const state = hostState({});
    expect(state.root).toBe("/var/lib/headroom");
    expect(state.images).toBe("/var/lib/headroom/images");
    expect(state.virtTypeCache).toBe("/var/lib/headroom/virt-type.json");
    expect(state.consoleLog("default", "web")).toBe(
      "/var/lib/headroom/vms/default/web/console.log",
    );
  });

  it("follows HEADROOM_STATE_DIR", () => {
    expect(hostState({ HEADROOM_STATE_DIR: "/srv/hr" }).nats).toBe("/srv/hr/nats");
  });

  it("refuses names that could leave the state directory", () => {
    const state = hostState({});
    for (const bad of ["..", "a/b", "", "A", "-x", "x".repeat(64)])
      expect(() => state.vmDir("default", bad)).toThrow(/DNS-1123/);
  });
});

describe("domainNameOf", () => {
  it("joins namespace and name with an underscore", () => {
    expect(domainNameOf("lab", "web-1")).toBe("lab_web-1");
    expect(() => domainNameOf("lab", "a_b")).toThrow();
  });
});
