/** The XML of one NIC for hot-plugging, taken from a domain's XML and pinned where it landed. */
import { type PciAddress, parsePciAddress } from "./topology.ts";
import {
  appendChildElement,
  childElements,
  DomainXmlError,
  devicesOf,
  firstChild,
  parseDomain,
  parseXml,
  removeElement,
  serialize,
} from "./xml.ts";

/** The `<interface>` whose alias is `alias`, as standalone XML; undefined when there is none. */
export function interfaceXmlByAlias(domainXml: string, alias: string): string | undefined {
  const { domain } = parseDomain(domainXml);
  const found = childElements(devicesOf(domain), "interface").find(
    (el) => firstChild(el, "alias")?.getAttribute("name") === alias,
  );
  return found ? `${serialize(found)}\n` : undefined;
}

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, "0")}`;

/**
 * The same `<interface>` with its MAC and PCI address fixed, so that the
 * persistent definition gets the NIC exactly where the live attach put it
 * (libvirt would otherwise pick the config's address on its own).
 */
export function pinInterface(
  interfaceXml: string,
  where: { mac: string; pciAddress: string },
): string {
  const doc = parseXml(interfaceXml, "interface XML");
  const iface = doc.documentElement;
  if (iface?.tagName !== "interface")
    throw new DomainXmlError("interface XML must have <interface> as its root element");
  const address: PciAddress = parsePciAddress(where.pciAddress);
  for (const tag of ["mac", "address"]) {
    const old = firstChild(iface, tag);
    if (old) removeElement(old);
  }
  appendChildElement(iface, { tag: "mac", attrs: { address: where.mac.toLowerCase() } });
  appendChildElement(iface, {
    tag: "address",
    attrs: {
      type: "pci",
      domain: hex(address.domain, 4),
      bus: hex(address.bus, 2),
      slot: hex(address.slot, 2),
      function: hex(address.function, 1),
    },
  });
  return `${serialize(doc)}\n`;
}
