/** Reading the PCI/PCIe topology libvirt built, and hardening it, from domain XML. */
import type { Element } from "@xmldom/xmldom";
import { NIC_ALIAS_PREFIX } from "./compose.ts";
import { isPlaceholder } from "./placeholders.ts";
import type { MachineFamily } from "./spec.ts";
import {
  appendChildElement,
  childElements,
  DomainXmlError,
  devicesOf,
  firstChild,
  parseDomain,
  serialize,
} from "./xml.ts";

export interface PciAddress {
  domain: number;
  bus: number;
  slot: number;
  function: number;
}

export interface PciController {
  /** The bus number devices behind this controller use in their `<address bus=…>`. */
  index: number;
  model: string;
  /** False when `<target hotplug='off'/>`. */
  hotplug: boolean;
  /** Where the controller itself sits (absent for pci-root / pcie-root). */
  address?: PciAddress;
}

export interface PciDevice {
  /** Element name under `<devices>`: disk, interface, controller, rng, memballoon, … */
  kind: string;
  /** Stable key: `disk:vda`, `interface:ua-net-default`, `controller:pci:3`, `rng#0`, … */
  identity: string;
  alias?: string;
  address: PciAddress;
  placeholder: boolean;
}

export interface Topology {
  machine: MachineFamily;
  /** The full machine type, e.g. `pc-q35-7.2`. */
  machineType: string;
  /** `<features><acpi/>`: without it pc (i440fx) cannot hot-plug at all. */
  acpi: boolean;
  /** The `<controller type='pci'>` elements. */
  controllers: PciController[];
  /** Every device under `<devices>` with a PCI address, controllers included. */
  devices: PciDevice[];
}

export interface HotplugSlot {
  /** Bus number = index of the controller that provides the slot. */
  bus: number;
  slot: number;
  /** Model of that controller: pcie-root-port, pcie-switch-downstream-port, pci-root, pci-bridge. */
  controller: string;
}

export interface InterfaceInfo {
  type: string;
  alias?: string;
  /** The VMI interface name, when the alias is `ua-net-<name>`. */
  name?: string;
  mac?: string;
  model?: string;
  bridge?: string;
  targetDev?: string;
  /** `0000:03:00.0`, when libvirt assigned one. */
  pciAddress?: string;
  placeholder: boolean;
}

export function machineFamily(machineType: string): MachineFamily {
  if (machineType === "q35" || machineType.startsWith("pc-q35-")) return "q35";
  if (machineType === "pc" || machineType.startsWith("pc-i440fx-") || /^pc-\d/.test(machineType))
    return "pc";
  throw new DomainXmlError(`machine type '${machineType}' is neither q35 nor pc (i440fx)`);
}

function hexOrDecimal(el: Element, attr: string): number {
  const raw = el.getAttribute(attr);
  const n = raw === null || raw === "" ? Number.NaN : Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new DomainXmlError(`<${el.tagName}> has an unreadable ${attr}='${raw ?? ""}'`);
  return n;
}

/** The device's own PCI address (its direct `<address type='pci'>` child, not a host source). */
function pciAddressOf(device: Element): PciAddress | undefined {
  const a = firstChild(device, "address");
  if (a?.getAttribute("type") !== "pci") return undefined;
  return {
    domain: a.hasAttribute("domain") ? hexOrDecimal(a, "domain") : 0,
    bus: hexOrDecimal(a, "bus"),
    slot: hexOrDecimal(a, "slot"),
    function: a.hasAttribute("function") ? hexOrDecimal(a, "function") : 0,
  };
}

const PCI_ADDRESS = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/;

/** Parses `0000:03:00.0` (as formatPciAddress writes it). */
export function parsePciAddress(text: string): PciAddress {
  const match = PCI_ADDRESS.exec(text);
  if (!match) throw new DomainXmlError(`"${text}" is not a PCI address like 0000:03:00.0`);
  const [, domain, bus, slot, fn] = match.map((part) => Number.parseInt(part ?? "", 16));
  return { domain: domain ?? 0, bus: bus ?? 0, slot: slot ?? 0, function: fn ?? 0 };
}

export function formatPciAddress(a: PciAddress): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
}

function aliasOf(device: Element): string | undefined {
  return firstChild(device, "alias")?.getAttribute("name") ?? undefined;
}

/** Stable identities for every device element, in document order. */
function identities(devices: Element): { el: Element; identity: string }[] {
  const seen = new Map<string, number>();
  return childElements(devices).map((el) => {
    const kind = el.tagName;
    let key: string | undefined;
    if (kind === "disk") {
      const dev = firstChild(el, "target")?.getAttribute("dev");
      if (dev) key = `disk:${dev}`;
    } else if (kind === "interface") {
      const id = aliasOf(el) ?? firstChild(el, "mac")?.getAttribute("address") ?? undefined;
      if (id) key = `interface:${id}`;
    } else if (kind === "controller") {
      key = `controller:${el.getAttribute("type") ?? ""}:${el.getAttribute("index") ?? ""}`;
    } else {
      const alias = aliasOf(el);
      if (alias) key = `${kind}:${alias}`;
    }
    if (key === undefined) {
      const n = seen.get(kind) ?? 0;
      seen.set(kind, n + 1);
      key = `${kind}#${n}`;
    }
    return { el, identity: key };
  });
}

function readMachineType(domain: Element): string {
  const os = firstChild(domain, "os");
  const machine = os && firstChild(os, "type")?.getAttribute("machine");
  if (!machine) throw new DomainXmlError("domain XML has no <os><type machine=…>");
  return machine;
}

function controllersOf(devices: Element): PciController[] {
  return childElements(devices, "controller")
    .filter((c) => c.getAttribute("type") === "pci")
    .map((c) => {
      const address = pciAddressOf(c);
      return {
        index: hexOrDecimal(c, "index"),
        model: c.getAttribute("model") ?? "",
        hotplug: firstChild(c, "target")?.getAttribute("hotplug") !== "off",
        ...(address ? { address } : {}),
      };
    });
}

/** The PCI topology of domain XML as libvirt returned it (`virsh dumpxml --inactive`). */
export function readTopology(domainXml: string): Topology {
  const { domain } = parseDomain(domainXml);
  const machineType = readMachineType(domain);
  const devices = devicesOf(domain);
  const features = firstChild(domain, "features");
  const pciDevices: PciDevice[] = [];
  for (const { el, identity } of identities(devices)) {
    const address = pciAddressOf(el);
    if (!address) continue;
    const alias = aliasOf(el);
    pciDevices.push({
      kind: el.tagName,
      identity,
      ...(alias !== undefined ? { alias } : {}),
      address,
      placeholder: isPlaceholder(el),
    });
  }
  return {
    machine: machineFamily(machineType),
    machineType,
    acpi: features !== undefined && firstChild(features, "acpi") !== undefined,
    controllers: controllersOf(devices),
    devices: pciDevices,
  };
}

const PCIE_PORTS = new Set(["pcie-root-port", "pcie-switch-downstream-port"]);
// pci-root: slot 0 is the i440fx host bridge, slot 1 the PIIX3 (ISA/IDE/USB), even when
// libvirt lists no device there. pci-bridge: slot 0 is not usable for devices.
const FIRST_FREE_SLOT: Record<string, number> = { "pci-root": 2, "pci-bridge": 1 };
const LAST_SLOT = 31;

/**
 * Where a NIC could be hot-plugged now. q35: every empty pcie-root-port or
 * pcie-switch-downstream-port whose hotplug is not off. pc: the free slots of pci-root and of
 * every pci-bridge; none at all without ACPI.
 */
export function freeHotplugSlots(topology: Topology): HotplugSlot[] {
  const used = new Set(topology.devices.map((d) => `${d.address.bus}:${d.address.slot}`));
  const busy = new Set(topology.devices.map((d) => d.address.bus));
  const free: HotplugSlot[] = [];
  for (const c of topology.controllers) {
    if (!c.hotplug) continue;
    if (topology.machine === "q35") {
      if (PCIE_PORTS.has(c.model) && !busy.has(c.index))
        free.push({ bus: c.index, slot: 0, controller: c.model });
    } else if (topology.acpi) {
      const first = FIRST_FREE_SLOT[c.model];
      if (first === undefined) continue;
      for (let slot = first; slot <= LAST_SLOT; slot++) {
        if (!used.has(`${c.index}:${slot}`)) free.push({ bus: c.index, slot, controller: c.model });
      }
    }
  }
  return free;
}

export interface ControllersAdded {
  total: number;
  /** Counted by model (or by type when a controller has no model). */
  byModel: Record<string, number>;
}

/** Controllers present in `after` but not in `before` (matched by type and index). */
export function controllersAdded(beforeXml: string, afterXml: string): ControllersAdded {
  const keyed = (xml: string) => {
    const devices = devicesOf(parseDomain(xml).domain);
    return childElements(devices, "controller").map((c) => ({
      key: `${c.getAttribute("type")}:${c.getAttribute("index")}`,
      model: c.getAttribute("model") ?? c.getAttribute("type") ?? "",
    }));
  };
  const before = new Set(keyed(beforeXml).map((c) => c.key));
  const byModel: Record<string, number> = {};
  let total = 0;
  for (const c of keyed(afterXml)) {
    if (before.has(c.key)) continue;
    byModel[c.model] = (byModel[c.model] ?? 0) + 1;
    total++;
  }
  return { total, byModel };
}

/** Device identity → PCI address (`0000:03:00.0`), to check that addresses stay put. */
export function pciAddressesOf(domainXml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of readTopology(domainXml).devices) out[d.identity] = formatPciAddress(d.address);
  return out;
}

/** The `<interface>` elements of domain XML, placeholders included (flagged). */
export function interfacesOf(domainXml: string): InterfaceInfo[] {
  const devices = devicesOf(parseDomain(domainXml).domain);
  return childElements(devices, "interface").map((el) => {
    const alias = aliasOf(el);
    const address = pciAddressOf(el);
    const attr = (tag: string, name: string) =>
      firstChild(el, tag)?.getAttribute(name) ?? undefined;
    const info: InterfaceInfo = {
      type: el.getAttribute("type") ?? "",
      placeholder: isPlaceholder(el),
    };
    if (alias !== undefined) info.alias = alias;
    if (alias?.startsWith(NIC_ALIAS_PREFIX)) info.name = alias.slice(NIC_ALIAS_PREFIX.length);
    const mac = attr("mac", "address");
    if (mac !== undefined) info.mac = mac;
    const model = attr("model", "type");
    if (model !== undefined) info.model = model;
    const bridge = attr("source", "bridge");
    if (bridge !== undefined) info.bridge = bridge;
    const targetDev = attr("target", "dev");
    if (targetDev !== undefined) info.targetDev = targetDev;
    if (address) info.pciAddress = formatPciAddress(address);
    return info;
  });
}

/**
 * q35: sets `hotplug='off'` on every PCIe port that holds a device other than a NIC (disk, rng,
 * memballoon, …), so the guest cannot eject it, as KubeVirt does. Ports with NICs and empty ports
 * stay hot-pluggable. pc has no per-slot switch: its XML comes back unchanged.
 */
export function protectNonNicRootPorts(domainXml: string): string {
  const { doc, domain } = parseDomain(domainXml);
  if (machineFamily(readMachineType(domain)) !== "q35") return domainXml;
  const devices = devicesOf(domain);
  const portsByIndex = new Map<number, Element>();
  for (const c of childElements(devices, "controller")) {
    if (c.getAttribute("type") === "pci" && PCIE_PORTS.has(c.getAttribute("model") ?? ""))
      portsByIndex.set(hexOrDecimal(c, "index"), c);
  }
  const protectedBuses = new Set<number>();
  for (const el of childElements(devices)) {
    if (el.tagName === "interface") continue;
    if (el.tagName === "controller" && el.getAttribute("type") === "pci") continue;
    const address = pciAddressOf(el);
    if (address && portsByIndex.has(address.bus)) protectedBuses.add(address.bus);
  }
  for (const bus of protectedBuses) {
    const port = portsByIndex.get(bus) as Element;
    const target = firstChild(port, "target") ?? appendChildElement(port, { tag: "target" });
    target.setAttribute("hotplug", "off");
  }
  return serialize(doc);
}
