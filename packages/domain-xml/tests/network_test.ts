import { describe, expect, it } from "vitest";
import {
  composeDomain,
  isHeadroomPodNetwork,
  parsePodSubnet,
  podBridgeNetworkXml,
  podNetworkXml,
  usesPodNetwork,
} from "../src/mod.ts";
import { fixtureSpec } from "./fixture_spec.ts";

describe("parsePodSubnet", () => {
  it("gives the gateway and the DHCP range of a subnet", () => {
    expect(parsePodSubnet("10.0.2.0/24")).toEqual({
      gateway: "10.0.2.1",
      prefix: 24,
      firstLease: "10.0.2.2",
      lastLease: "10.0.2.254",
    });
    expect(parsePodSubnet("172.20.0.0/16")).toMatchObject({
      gateway: "172.20.0.1",
      lastLease: "172.20.255.254",
    });
  });

  it.each([
    ["not an address", "pod"],
    ["an octet over 255", "10.0.300.0/24"],
    ["a prefix too short", "10.0.0.0/7"],
    ["a prefix too long", "10.0.2.0/30"],
    ["no prefix", "10.0.2.0"],
    ["an IPv6 network", "fd00::/64"],
  ])("refuses %s", (_, cidr) => {
    expect(() => parsePodSubnet(cidr)).toThrow(/must be an IPv4 network such as 10\.0\.2\.0\/24/);
  });

  it("refuses host bits and names the network meant", () => {
    expect(() => parsePodSubnet("10.0.2.7/24")).toThrow(
      "pod subnet 10.0.2.7/24 has host bits set (the network is 10.0.2.0/24)",
    );
  });
});

describe("podNetworkXml", () => {
  const xml = podNetworkXml(parsePodSubnet("10.0.2.0/24"));

  it("is a NAT network with DHCP, isolated ports and headroom's mark", () => {
    expect(xml).toContain('<forward mode="nat"/>');
    expect(xml).toContain('<port isolated="yes"/>');
    expect(xml).toContain('<ip address="10.0.2.1" prefix="24">');
    expect(xml).toContain('<range start="10.0.2.2" end="10.0.2.254"/>');
    expect(isHeadroomPodNetwork(xml)).toBe(true);
  });

  it("tells a network without the mark from one with it", () => {
    const unmarked = xml.replace(/<metadata>[\s\S]*<\/metadata>/, "");
    expect(isHeadroomPodNetwork(unmarked)).toBe(false);
    expect(isHeadroomPodNetwork("<domain/>")).toBe(false);
  });
});

describe("usesPodNetwork", () => {
  it("is true only when a NIC joins the pod network", () => {
    const spec = fixtureSpec("q35", "pod-test");
    expect(usesPodNetwork(composeDomain(spec))).toBe(true);
    const bridged = {
      ...spec,
      interfaces: [
        { name: "b", kind: "bridge" as const, bridge: "hrbr0", model: "virtio" as const },
      ],
    };
    expect(usesPodNetwork(composeDomain(bridged))).toBe(false);
  });
});

describe("podBridgeNetworkXml", () => {
  it("hands libvirt the existing bridge, marked, with no addresses of its own", () => {
    const xml = podBridgeNetworkXml();
    expect(xml).toContain('<forward mode="bridge"/>');
    expect(xml).toContain('<bridge name="headroom-pod"/>');
    expect(xml).not.toContain("<ip");
    expect(isHeadroomPodNetwork(xml)).toBe(true);
  });
});
