// headroom marks each domain it defines with the uid of the VMI it runs, in
// the domain's <metadata>, and touches no domain without that mark: a domain
// someone defined by hand under a name headroom would use is left alone.
import type { Element } from "@xmldom/xmldom";
import { DomainSpecError } from "./spec.ts";
import { appendChildElement, childElements, parseDomain, removeElement, serialize } from "./xml.ts";

/** The XML namespace of headroom's mark (libvirt keeps one metadata element per namespace). */
export const OWNER_XMLNS = "https://headroom.dev/xmlns/owner/v1";

const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function ownerElements(domain: Element): Element[] {
  return childElements(domain, "metadata").flatMap((metadata) =>
    childElements(metadata).filter(
      (el) => el.namespaceURI === OWNER_XMLNS && el.localName === "owner",
    ),
  );
}

/** The domain XML with headroom's mark for the VMI `uid` (any earlier mark replaced). */
export function withOwner(domainXml: string, uid: string): string {
  if (!UID.test(uid))
    throw new DomainSpecError("uid", `must be a UUID (got ${JSON.stringify(uid)})`);
  const { doc, domain } = parseDomain(domainXml);
  for (const old of ownerElements(domain)) removeElement(old);
  const metadata =
    childElements(domain, "metadata")[0] ?? appendChildElement(domain, { tag: "metadata" });
  // The namespace is declared on the element itself, so it reads back the
  // same once serialized and parsed (as libvirt stores it).
  appendChildElement(metadata, {
    tag: "headroom:owner",
    attrs: { "xmlns:headroom": OWNER_XMLNS, uid: uid.toLowerCase() },
  });
  return serialize(doc);
}

/** The uid of the VMI whose mark the domain XML carries, or undefined when headroom did not define it. */
export function ownerOf(domainXml: string): string | undefined {
  const { domain } = parseDomain(domainXml);
  const uid = ownerElements(domain)[0]?.getAttribute("uid") ?? "";
  return UID.test(uid) ? uid.toLowerCase() : undefined;
}
