/**
 * The alternative the seed design rejected: reserve room by writing bare pcie-root-port
 * controllers into the domain XML and defining it once.
 */
import { freeHotplugSlots, readTopology } from "@headroom/domain-xml";
import type { Connection } from "@headroom/libvirt";
import { DOMParser, type Element, XMLSerializer } from "@xmldom/xmldom";

/**
 * Appends `count` bare pcie-root-port controllers to `<devices>`, after the pcie-root they
 * hang from (libvirt would give the first bare PCI controller index 0, which must be the
 * root); libvirt fills in indexes and addresses.
 */
export function withRootPorts(domainXml: string, count: number): string {
  const doc = new DOMParser().parseFromString(domainXml, "text/xml");
  const devices = doc.getElementsByTagName("devices")[0] as Element | undefined;
  if (!devices) throw new Error("the composed domain has no <devices>");
  const root = doc.createElement("controller");
  root.setAttribute("type", "pci");
  root.setAttribute("index", "0");
  root.setAttribute("model", "pcie-root");
  devices.appendChild(root);
  for (let i = 0; i < count; i++) {
    const controller = doc.createElement("controller");
    controller.setAttribute("type", "pci");
    controller.setAttribute("model", "pcie-root-port");
    devices.appendChild(controller);
  }
  return new XMLSerializer().serializeToString(doc);
}

/** Free slots a define of `domainXml` with `ports` bare ports leaves (defined only, then undefined). */
export async function freeSlotsWithPorts(
  conn: Connection,
  domainXml: string,
  ports: number,
): Promise<number> {
  const domain = await conn.defineXml(withRootPorts(domainXml, ports));
  try {
    return freeHotplugSlots(readTopology(await domain.getXmlDesc({ inactive: true }))).length;
  } finally {
    await domain.undefine();
  }
}

/**
 * The fewest bare ports (from `from` up) that leave at least `target` free slots: libvirt puts
 * the domain's own PCIe devices on bare ports first, so it takes more ports than slots wanted.
 */
export async function portsForFreeSlots(
  conn: Connection,
  domainXml: string,
  target: number,
  from: number,
): Promise<{ ports: number; free: number }> {
  let ports = from;
  let free = await freeSlotsWithPorts(conn, domainXml, ports);
  while (free < target && ports < 64) {
    ports += 1;
    free = await freeSlotsWithPorts(conn, domainXml, ports);
  }
  return { ports, free };
}
