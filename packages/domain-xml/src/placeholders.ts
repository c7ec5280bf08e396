/**
 * Placeholder NICs: temporary `type='ethernet'` interfaces that make libvirt build the PCI/PCIe
 * controllers N hot-plugged NICs will need, removed again before the domain starts.
 */

import { MAX_INTERFACE_REQUEST } from "@headroom/vmi";
import type { Element } from "@xmldom/xmldom";
import { USER_ALIAS_PREFIX } from "./compose.ts";
import { DomainSpecError, NIC_MODELS, type NicModel } from "./spec.ts";
import {
  appendChildElement,
  childElements,
  DomainXmlError,
  devicesOf,
  firstChild,
  newDocument,
  parseDomain,
  removeElement,
  serialize,
  type XElement,
} from "./xml.ts";

export const PLACEHOLDER_DEV_PREFIX = "placeholder-";
export const PLACEHOLDER_ALIAS_PREFIX = `${USER_ALIAS_PREFIX}placeholder-`;
/** Placeholders never exceed the largest `kubevirt.io/interface` request. */
export const MAX_PLACEHOLDERS = MAX_INTERFACE_REQUEST;

/** How many placeholders reserve room for `requested` NICs when `interfaces` already exist. */
export function placeholderCount(requested: number | null, interfaces: number): number {
  return Math.max(0, (requested ?? 0) - interfaces);
}

function checkPlan(count: number, model: NicModel): void {
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_PLACEHOLDERS)
    throw new DomainSpecError(
      "placeholders",
      `must be a whole number from 0 to ${MAX_PLACEHOLDERS}`,
    );
  if (!NIC_MODELS.includes(model))
    throw new DomainSpecError("model", `must be one of ${NIC_MODELS.join(", ")}`);
}

function placeholderElement(n: number, model: NicModel): XElement {
  return {
    tag: "interface",
    attrs: { type: "ethernet" },
    children: [
      { tag: "target", attrs: { dev: `${PLACEHOLDER_DEV_PREFIX}${n}`, managed: "no" } },
      { tag: "model", attrs: { type: model } },
      { tag: "alias", attrs: { name: `${PLACEHOLDER_ALIAS_PREFIX}${n}` } },
    ],
  };
}

/** The placeholder interfaces `placeholder-1` … `placeholder-<count>`, one XML document each. */
export function placeholderInterfaces(count: number, model: NicModel): string[] {
  checkPlan(count, model);
  return Array.from({ length: count }, (_, i) =>
    serialize(newDocument(placeholderElement(i + 1, model))),
  );
}

/** A placeholder is recognised by structure, never by alias: ethernet, placeholder-*, unmanaged. */
export function isPlaceholder(el: Element): boolean {
  if (el.tagName !== "interface" || el.getAttribute("type") !== "ethernet") return false;
  const target = firstChild(el, "target");
  return (
    target !== undefined &&
    (target.getAttribute("dev") ?? "").startsWith(PLACEHOLDER_DEV_PREFIX) &&
    target.getAttribute("managed") === "no"
  );
}

/**
 * Appends `count` placeholders to `<devices>` of existing domain XML (typically libvirt's read-back,
 * so every device already has its address and keeps it). Refuses XML that already has some.
 */
export function addPlaceholders(domainXml: string, count: number, model: NicModel): string {
  checkPlan(count, model);
  const { doc, domain } = parseDomain(domainXml);
  const devices = devicesOf(domain);
  const existing = childElements(devices, "interface").filter(isPlaceholder).length;
  if (existing > 0)
    throw new DomainXmlError(
      `domain XML already holds ${existing} placeholder interface(s); strip them first`,
    );
  for (let n = 1; n <= count; n++) appendChildElement(devices, placeholderElement(n, model));
  return serialize(doc);
}

/** Removes the placeholder interfaces from `<devices>`; everything else stays as it was. */
export function stripPlaceholders(domainXml: string): { xml: string; removed: number } {
  const { doc, domain } = parseDomain(domainXml);
  const placeholders = childElements(devicesOf(domain), "interface").filter(isPlaceholder);
  for (const el of placeholders) removeElement(el);
  return { xml: serialize(doc), removed: placeholders.length };
}
