import { newDocument, serialize } from "./xml.ts";

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
