import { describe, expect, it } from "vitest";
import { domainNameOf, domainUuidOf, hostState, isDnsLabel, vmiOfDomainName } from "../src/mod.ts";

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

describe("vmiOfDomainName", () => {
  it("reads a VMI's domain name back, and nothing from other domains", () => {
    expect(vmiOfDomainName(domainNameOf("lab", "web-1"))).toEqual({
      namespace: "lab",
      name: "web-1",
    });
    for (const other of ["web", "lab_", "_web", "a_b_c", "headroom-kvm-probe-1"])
      expect(vmiOfDomainName(other)).toBeUndefined();
  });
});

describe("domainUuidOf", () => {
  const uid = "3f8e9a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b";

  it("is the uid itself when the uid is a UUID", () => {
    expect(domainUuidOf(uid.toUpperCase())).toBe(uid);
  });

  it("derives a stable version 5 UUID from any other uid", () => {
    const uuid = domainUuidOf("vmi-uid-1");
    expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(domainUuidOf("vmi-uid-1")).toBe(uuid);
    expect(domainUuidOf("vmi-uid-2")).not.toBe(uuid);
  });
});

describe("volumeFile", () => {
  const state = hostState({ HEADROOM_STATE_DIR: "/s" });

  it("is <vmDir>/<volume>.qcow2", () => {
    expect(state.volumeFile("ns", "vm", "root")).toBe("/s/vms/ns/vm/root.qcow2");
  });

  it("refuses a volume name that is not a DNS-1123 label", () => {
    expect(() => state.volumeFile("ns", "vm", "../../etc/x")).toThrow(/volume/);
  });
});

describe("isDnsLabel", () => {
  it("takes 1 to 63 lower-case letters, digits and inner hyphens", () => {
    for (const ok of ["a", "eth0", "web-1", "a".repeat(63)]) expect(isDnsLabel(ok)).toBe(true);
    for (const bad of ["", "-a", "a-", "A", "a_b", "a.b", "a".repeat(64), "x".repeat(600_000)])
      expect(isDnsLabel(bad)).toBe(false);
  });
});
