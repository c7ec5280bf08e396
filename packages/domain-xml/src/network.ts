import { OWNER_XMLNS } from "./owner.ts";
import { POD_NETWORK } from "./spec.ts";
import { interfacesOf } from "./topology.ts";
import { childElements, DomainXmlError, newDocument, parseXml, serialize } from "./xml.ts";

/**
 * A libvirt network whose only job is a host bridge: no forwarding, no
 * addresses, so libvirt starts no DHCP server and adds no firewall rules.
 */
export function bridgeNetworkXml(networkName: string, bridge: string): string {
  return `${serialize(
    newDocument({
      tag: "network",
      children: [
        { tag: "name", text: networkName },
        { tag: "bridge", attrs: { name: bridge, stp: "off", delay: "0" } },
      ],
    }),
  )}\n`;
}

export { POD_NETWORK } from "./spec.ts";
/** The pod network's host bridge. */
export const POD_BRIDGE = "headroom-pod";
/** KubeVirt's masquerade binding gives guests this subnet too. */
export const DEFAULT_POD_SUBNET = "10.0.2.0/24";

export interface PodSubnet {
  /** The host's address on the pod network, the guests' gateway. */
  gateway: string;
  prefix: number;
  /** The addresses DHCP hands out. */
  firstLease: string;
  lastLease: string;
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

function dotted(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

/** An IPv4 subnet such as `10.0.2.0/24`, /8 to /29, as the pod network uses it. */
export function parsePodSubnet(cidr: string): PodSubnet {
  const m = CIDR.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : Number.NaN;
  if (!m || octets.some((o) => o > 255) || !(prefix >= 8 && prefix <= 29))
    throw new DomainXmlError(
      `pod subnet ${JSON.stringify(cidr)} must be an IPv4 network such as ${DEFAULT_POD_SUBNET}, /8 to /29`,
    );
  const base = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0)
    throw new DomainXmlError(
      `pod subnet ${cidr} has host bits set (the network is ${dotted(base - (base % size))}/${prefix})`,
    );
  return {
    gateway: dotted(base + 1),
    prefix,
    firstLease: dotted(base + 2),
    lastLease: dotted(base + size - 2),
  };
}

const podNetworkHead = [
  { tag: "name", text: POD_NETWORK },
  {
    tag: "metadata",
    children: [{ tag: "headroom:pod-network", attrs: { "xmlns:headroom": OWNER_XMLNS } }],
  },
];

/**
 * The pod network: NAT to wherever the host routes, DHCP from libvirt's
 * dnsmasq, guests unable to reach each other (isolated ports) or the host's
 * loopback (a NAT network is routed, not QEMU user networking, which maps its
 * gateway onto the host's 127.0.0.1). Marked as headroom's.
 */
export function podNetworkXml(subnet: PodSubnet): string {
  return `${serialize(
    newDocument({
      tag: "network",
      children: [
        ...podNetworkHead,
        { tag: "forward", attrs: { mode: "nat" } },
        { tag: "bridge", attrs: { name: POD_BRIDGE, stp: "off", delay: "0" } },
        { tag: "port", attrs: { isolated: "yes" } },
        {
          tag: "ip",
          attrs: { address: subnet.gateway, prefix: String(subnet.prefix) },
          children: [
            {
              tag: "dhcp",
              children: [
                { tag: "range", attrs: { start: subnet.firstLease, end: subnet.lastLease } },
              ],
            },
          ],
        },
      ],
    }),
  )}\n`;
}

/**
 * The pod network over a bridge whose NAT and DHCP someone else runs (a
 * container's entrypoint, where libvirt cannot make a NAT network): libvirt
 * only plugs guests into it. Its ports are not isolated: libvirt sets that
 * through /sys, read-only there too. Marked as headroom's.
 */
export function podBridgeNetworkXml(): string {
  return `${serialize(
    newDocument({
      tag: "network",
      children: [
        ...podNetworkHead,
        { tag: "forward", attrs: { mode: "bridge" } },
        { tag: "bridge", attrs: { name: POD_BRIDGE } },
      ],
    }),
  )}\n`;
}

/** Whether a libvirt network's XML carries headroom's pod network mark. */
export function isHeadroomPodNetwork(networkXml: string): boolean {
  const network = parseXml(networkXml, "network XML").documentElement;
  if (network?.tagName !== "network") return false;
  return childElements(network, "metadata").some((metadata) =>
    childElements(metadata).some(
      (el) => el.namespaceURI === OWNER_XMLNS && el.localName === "pod-network",
    ),
  );
}

/** Whether a domain has a NIC on the pod network, so its host needs the network first. */
export function usesPodNetwork(domainXml: string): boolean {
  return interfacesOf(domainXml).some((nic) => nic.type === "network");
}
