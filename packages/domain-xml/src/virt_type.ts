/** The hypervisor a domain runs on is the host's choice, made after composing. */
import type { VirtType } from "./spec.ts";
import { parseDomain, serialize } from "./xml.ts";

/** Returns the domain XML with `<domain type=…>` set: "kvm" when the host can, "qemu" (TCG) otherwise. */
export function withVirtType(domainXml: string, virtType: VirtType): string {
  const { doc, domain } = parseDomain(domainXml);
  if (domain.getAttribute("type") === virtType) return domainXml;
  domain.setAttribute("type", virtType);
  return serialize(doc);
}
