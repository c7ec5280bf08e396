/** The hypervisor a domain runs on is the host's choice, made after composing. */
import type { VirtType } from "./spec.ts";
import { parseDomain, serialize } from "./xml.ts";

/**
 * Returns the domain XML with `<domain type=…>` set: "kvm" when the host can,
 * "qemu" (TCG) otherwise. Always written anew from the parsed tree, so what
 * libvirt reads is what this parser read (and the launcher checked).
 */
export function withVirtType(domainXml: string, virtType: VirtType): string {
  const { domain } = parseDomain(domainXml);
  domain.setAttribute("type", virtType);
  // The element alone: nothing beside it (an XML declaration naming another
  // encoding, say) reaches libvirt.
  return serialize(domain);
}
