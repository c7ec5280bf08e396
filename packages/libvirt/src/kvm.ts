import { DOMImplementation, DOMParser, type Element, XMLSerializer } from "@xmldom/xmldom";
import type { Connection } from "./connection.ts";
import { LibvirtError } from "./errors.ts";

export interface KvmSupport {
  usable: boolean;
  /** How it was decided: from domain capabilities only, or by starting a probe domain. */
  checkedBy: "capabilities" | "probe";
  /** In plain words, why KVM is or is not usable. */
  reason: string;
}

function childText(parent: Element, name: string): string | undefined {
  for (let node = parent.firstChild; node !== null; node = node.nextSibling) {
    if (node.nodeType === node.ELEMENT_NODE && node.nodeName === name) {
      return node.textContent?.trim();
    }
  }
  return undefined;
}

// The smallest domain QEMU will start: no disk, no NIC, no firmware boot.
function probeDomainXml(
  name: string,
  arch: string | undefined,
  emulator: string | undefined,
): string {
  const doc = new DOMImplementation().createDocument(null, "domain", null);
  const domain = doc.documentElement as Element;
  domain.setAttribute("type", "kvm");
  const add = (parent: Element, tag: string, text?: string): Element => {
    const element = doc.createElement(tag);
    if (text !== undefined) element.appendChild(doc.createTextNode(text));
    parent.appendChild(element);
    return element;
  };
  add(domain, "name", name);
  add(domain, "memory", "32").setAttribute("unit", "MiB");
  add(domain, "vcpu", "1");
  const type = add(add(domain, "os"), "type", "hvm");
  if (arch !== undefined) type.setAttribute("arch", arch);
  const devices = add(domain, "devices");
  if (emulator !== undefined) add(devices, "emulator", emulator);
  return new XMLSerializer().serializeToString(doc);
}

/** See Connection.kvmSupport(). */
export async function probeKvm(connection: Connection, probeName?: string): Promise<KvmSupport> {
  let capabilities: string;
  try {
    capabilities = await connection.getDomainCapabilities({ virttype: "kvm" });
  } catch (error) {
    if (!(error instanceof LibvirtError)) throw error;
    return { usable: false, checkedBy: "capabilities", reason: error.message };
  }
  const root = new DOMParser().parseFromString(capabilities, "text/xml").documentElement;
  const virttype = root === null ? undefined : childText(root, "domain");
  if (root === null || virttype !== "kvm") {
    return {
      usable: false,
      checkedBy: "capabilities",
      reason: `domain capabilities for virttype kvm report domain type "${virttype ?? "none"}"`,
    };
  }
  if (probeName === undefined) {
    return {
      usable: true,
      checkedBy: "capabilities",
      reason: "domain capabilities report kvm (QEMU may still be refused /dev/kvm)",
    };
  }
  try {
    const xml = probeDomainXml(probeName, childText(root, "arch"), childText(root, "path"));
    const probe = await connection.createXml(xml, { paused: true, autodestroy: true });
    try {
      await probe.destroy();
    } finally {
      probe.free();
    }
    return { usable: true, checkedBy: "probe", reason: "a paused KVM domain started" };
  } catch (error) {
    if (!(error instanceof LibvirtError)) throw error;
    return { usable: false, checkedBy: "probe", reason: error.message };
  }
}
