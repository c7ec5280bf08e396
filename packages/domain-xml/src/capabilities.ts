// What a host offers, read from libvirt's capabilities XML (virConnectGetCapabilities).
import { childElements, firstChild, parseXml } from "./xml.ts";

/**
 * The machine types the host's QEMU offers for `arch` guests: the short
 * names that stand for the newest version first (pc, q35), then the versioned
 * ones; deprecated machines are left out.
 */
export function machineTypes(capabilitiesXml: string, arch = "x86_64"): string[] {
  const root = parseXml(capabilitiesXml, "capabilities XML").documentElement;
  const aliases = new Set<string>();
  const versioned = new Set<string>();
  for (const guest of root ? childElements(root, "guest") : []) {
    const archElement = firstChild(guest, "arch");
    if (archElement?.getAttribute("name") !== arch) continue;
    // Machines sit under <arch>, and some only under one <domain type>.
    const holders = [archElement, ...childElements(archElement, "domain")];
    for (const machine of holders.flatMap((holder) => childElements(holder, "machine"))) {
      const name = machine.textContent?.trim() ?? "";
      if (name === "" || machine.getAttribute("deprecated") === "yes") continue;
      (machine.hasAttribute("canonical") ? aliases : versioned).add(name);
    }
  }
  const byName = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });
  return [
    ...[...aliases].sort(byName),
    ...[...versioned].filter((m) => !aliases.has(m)).sort(byName),
  ];
}
