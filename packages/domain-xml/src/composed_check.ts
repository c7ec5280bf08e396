// What domain XML handed to the launcher may hold: exactly the elements and
// attributes composeDomain writes, with every file and bridge from the places
// the caller allows. Whoever holds the composer's login can publish a plan, and
// the launcher defines it as root: without this check a plan could give a guest
// a host block device, a host file as its disk, or a QEMU command line.
import type { Element } from "@xmldom/xmldom";
import { DISK_ALIAS_PREFIX, NIC_ALIAS_PREFIX } from "./compose.ts";
import {
  CHASSIS_ENTRIES,
  CPU_FEATURE,
  CPU_FEATURE_POLICIES,
  CPU_MODEL,
  DISK_SERIAL,
  ERROR_POLICIES,
  NIC_MODELS,
  POD_NETWORK,
  SMBIOS_SERIAL,
  TIME_ZONE,
} from "./spec.ts";
import { DomainXmlError, parseDomain } from "./xml.ts";

/** What a composed domain may name besides its fixed shape. */
export interface ComposedAllowance {
  /** The domain's `<name>` and `<uuid>`. */
  name: string;
  uuid: string;
  /** Files a `<disk>` may use as its source: qcow2 files of the VMI's own. */
  diskFiles: readonly string[];
  /** cloud-init seed files: raw, and only read-only. */
  seedFiles?: readonly string[];
  /** hostDisk files: raw, and only raw (a guest writes them). */
  hostDiskFiles?: readonly string[];
  /** Whether a `<kernel>` or `<initrd>` may be this file. */
  bootFile: (path: string) => boolean;
  /** Host bridges an `<interface type="bridge">` may join. */
  bridges: readonly string[];
  /** The one file a serial console may log to. */
  consoleLog: string;
  /** The one file a UEFI guest's variables may be kept in. */
  nvramFile?: string;
  /** How many `<interface>` elements the VMI declares. */
  interfaces: number;
  /** The guest's memory, vCPUs, machine and firmware, when the VMI's record has them. */
  guest?: GuestAllowance;
}

export interface GuestAllowance {
  memoryKiB: number;
  vcpus: number;
  machineType: string;
  bootloader?: "bios" | "efi";
  secureBoot?: boolean;
  smm?: boolean;
}

type Check = (value: string) => boolean;

/** An element as headroom composes it; anything not listed is refused. */
interface Rule {
  attrs?: Record<string, Check>;
  /** Text content; without it only whitespace is allowed. */
  text?: Check;
  children?: Record<string, Rule>;
  /** Children that must be there (once); every child may be there once, but `repeats`. */
  required?: readonly string[];
  repeats?: readonly string[];
}

const oneOf =
  (...values: readonly string[]): Check =>
  (value) =>
    values.includes(value);
const matches =
  (pattern: RegExp): Check =>
  (value) =>
    pattern.test(value);
const anyText: Check = () => true;
/** A whole number from 1 to `max`, written plainly. */
const upTo =
  (max: number): Check =>
  (value) =>
    /^[1-9][0-9]{0,5}$/.test(value) && Number(value) <= max;
/** A power of 2 from 512 to 2 MiB, as checkDomainSpec takes a block size. */
const blockSize: Check = (value) => {
  const n = Number(value);
  return /^[0-9]{3,7}$/.test(value) && n >= 512 && n <= 2097152 && (n & (n - 1)) === 0;
};
const count = matches(/^[0-9]{1,12}$/);
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const ALIAS_TAIL = "[A-Za-z0-9_-]+$";

function rulesFor(allowed: ComposedAllowance): Rule {
  const seeds = allowed.seedFiles ?? [];
  const hostDisks = allowed.hostDiskFiles ?? [];
  const disk: Rule = {
    attrs: { type: oneOf("file"), device: oneOf("disk", "cdrom") },
    children: {
      // A VMI's disks are its own qcow2 files (an overlay, or blank), or its
      // read-only raw seed; seedProblems checks which is which.
      driver: {
        attrs: {
          name: oneOf("qemu"),
          type: oneOf("qcow2", "raw"),
          cache: oneOf("none", "writethrough", "writeback"),
          queues: matches(/^[1-9][0-9]?$/),
          iothread: matches(/^[1-9][0-9]{0,2}$/),
          error_policy: oneOf(...ERROR_POLICIES),
          io: oneOf("native", "threads"),
        },
      },
      blockio: { attrs: { logical_block_size: blockSize, physical_block_size: blockSize } },
      boot: { attrs: { order: upTo(64) } },
      serial: { text: matches(DISK_SERIAL) },
      source: {
        attrs: {
          file: (path) =>
            allowed.diskFiles.includes(path) || seeds.includes(path) || hostDisks.includes(path),
        },
      },
      target: {
        attrs: {
          dev: matches(/^(vd|sd)[a-z]{1,3}$/),
          bus: oneOf("virtio", "sata", "scsi"),
          tray: oneOf("open"),
        },
      },
      readonly: {},
      shareable: {},
      alias: { attrs: { name: matches(new RegExp(`^${DISK_ALIAS_PREFIX}${ALIAS_TAIL}`)) } },
    },
  };
  const nic: Rule = {
    attrs: { type: oneOf("network", "bridge") },
    children: {
      mac: { attrs: { address: matches(MAC) } },
      // The pod network, or a bridge the plan names (libvirt refuses a source
      // that does not match the interface's type).
      source: {
        attrs: {
          bridge: (bridge) => allowed.bridges.includes(bridge),
          network: oneOf(POD_NETWORK),
        },
      },
      model: { attrs: { type: oneOf(...NIC_MODELS) } },
      driver: { attrs: { queues: matches(/^[1-9][0-9]?$/) } },
      boot: { attrs: { order: upTo(64) } },
      acpi: { attrs: { index: upTo(16383) } },
      link: { attrs: { state: oneOf("down") } },
      alias: { attrs: { name: matches(new RegExp(`^${NIC_ALIAS_PREFIX}${ALIAS_TAIL}`)) } },
    },
  };
  return {
    attrs: { type: oneOf("kvm", "qemu") },
    required: ["name", "uuid", "memory", "vcpu", "os", "devices"],
    children: {
      name: { text: (name) => name === allowed.name },
      uuid: { text: (uuid) => uuid === allowed.uuid.toLowerCase() },
      title: { text: anyText },
      description: { text: anyText },
      memory: { attrs: { unit: oneOf("KiB") }, text: count },
      vcpu: { attrs: { placement: oneOf("static") }, text: count },
      iothreads: { text: count },
      cpu: {
        attrs: {
          mode: oneOf("host-model", "host-passthrough", "custom"),
          match: oneOf("exact"),
        },
        children: {
          model: { attrs: { fallback: oneOf("forbid") }, text: matches(CPU_MODEL) },
          feature: {
            attrs: { policy: oneOf(...CPU_FEATURE_POLICIES), name: matches(CPU_FEATURE) },
          },
        },
        repeats: ["feature"],
      },
      os: {
        attrs: { firmware: oneOf("efi") },
        required: ["type"],
        children: {
          firmware: {
            repeats: ["feature"],
            children: {
              feature: {
                attrs: { enabled: oneOf("yes", "no"), name: oneOf("secure-boot", "enrolled-keys") },
              },
            },
          },
          nvram: { text: (path) => path === allowed.nvramFile },
          bios: { attrs: { useserial: oneOf("yes") } },
          type: {
            attrs: { arch: oneOf("x86_64"), machine: matches(/^[a-z0-9][a-z0-9._-]{0,63}$/) },
            text: oneOf("hvm"),
          },
          kernel: { text: allowed.bootFile },
          initrd: { text: allowed.bootFile },
          cmdline: { text: anyText },
          boot: { attrs: { dev: oneOf("hd") } },
          smbios: { attrs: { mode: oneOf("sysinfo") } },
        },
      },
      sysinfo: {
        attrs: { type: oneOf("smbios") },
        children: {
          system: {
            children: {
              entry: {
                attrs: { name: oneOf("serial") },
                text: matches(SMBIOS_SERIAL),
              },
            },
          },
          chassis: {
            repeats: ["entry"],
            children: {
              entry: {
                attrs: { name: oneOf(...CHASSIS_ENTRIES) },
                text: matches(SMBIOS_SERIAL),
              },
            },
          },
        },
      },
      features: { children: { acpi: {}, apic: {}, smm: { attrs: { state: oneOf("on") } } } },
      clock: {
        attrs: {
          offset: oneOf("utc", "timezone"),
          adjustment: matches(/^-?[0-9]{1,12}$/),
          timezone: matches(TIME_ZONE),
        },
        repeats: ["timer"],
        children: {
          timer: {
            attrs: {
              name: oneOf("hpet", "pit", "rtc"),
              present: oneOf("yes", "no"),
              tickpolicy: oneOf("delay", "catchup", "merge", "discard"),
              track: oneOf("guest", "wall"),
            },
          },
        },
      },
      on_poweroff: { text: oneOf("destroy") },
      on_reboot: { text: oneOf("restart") },
      on_crash: { text: oneOf("destroy") },
      devices: {
        repeats: ["disk", "controller", "interface"],
        children: {
          disk,
          controller: {
            attrs: {
              type: oneOf("usb", "scsi"),
              model: oneOf("none", "virtio-scsi"),
              index: oneOf("0"),
            },
          },
          interface: nic,
          serial: {
            attrs: { type: oneOf("pty") },
            children: {
              log: { attrs: { file: (file) => file === allowed.consoleLog, append: oneOf("on") } },
              target: { attrs: { port: oneOf("0") } },
            },
          },
          console: {
            attrs: { type: oneOf("pty") },
            children: { target: { attrs: { type: oneOf("serial"), port: oneOf("0") } } },
          },
          video: {
            children: { model: { attrs: { type: oneOf("vga", "bochs", "virtio", "cirrus") } } },
          },
          watchdog: {
            attrs: { model: oneOf("i6300esb"), action: oneOf("poweroff", "reset", "shutdown") },
          },
          memballoon: { attrs: { model: oneOf("none") } },
          tpm: {
            attrs: { model: oneOf("tpm-tis") },
            children: { backend: { attrs: { type: oneOf("emulator"), version: oneOf("2.0") } } },
          },
          rng: {
            attrs: { model: oneOf("virtio") },
            children: {
              backend: { attrs: { model: oneOf("random") }, text: oneOf("/dev/urandom") },
            },
          },
        },
      },
    },
  };
}

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

/** A value or name as a message shows it: quoted, escaped, and cut short. */
function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** What a node outside the root element is, in words. */
function outside(node: { nodeType: number; nodeName: string }): string {
  switch (node.nodeType) {
    case 7:
      return `the processing instruction <?${named(node.nodeName)} ...?>`;
    case 8:
      return "a comment";
    case 10:
      return "a DOCTYPE";
    default:
      return "text";
  }
}

/** A tag or attribute name in a message: as written when it is a plain name, else shown(). */
function named(name: string): string {
  return /^[A-Za-z_][-A-Za-z0-9_.:]{0,40}$/.test(name) ? name : shown(name);
}

function checkElement(element: Element, rule: Rule, path: string, problems: string[]): void {
  for (const attr of Array.from(element.attributes)) {
    const check = rule.attrs?.[attr.name];
    if (!check)
      problems.push(`${path}: attribute ${named(attr.name)} is not one headroom composes`);
    else if (!check(attr.value))
      problems.push(`${path}@${attr.name}: ${shown(attr.value)} is not allowed`);
  }
  let text = "";
  const seen = new Map<string, number>();
  for (const node of Array.from(element.childNodes)) {
    if (node.nodeType === TEXT_NODE) {
      text += node.nodeValue ?? "";
      continue;
    }
    if (node.nodeType !== ELEMENT_NODE) {
      problems.push(
        `${path}: holds a node of type ${node.nodeType}; only elements and text are allowed`,
      );
      continue;
    }
    const child = node as Element;
    const childRule = Object.hasOwn(rule.children ?? {}, child.tagName)
      ? rule.children?.[child.tagName]
      : undefined;
    const childPath = `${path}/${named(child.tagName)}`;
    if (!childRule) {
      problems.push(`${childPath}: not an element headroom composes`);
      continue;
    }
    seen.set(child.tagName, (seen.get(child.tagName) ?? 0) + 1);
    checkElement(child, childRule, childPath, problems);
  }
  for (const [tag, times] of seen) {
    if (times > 1 && !rule.repeats?.includes(tag))
      problems.push(`${path}/${tag}: there ${times} times; headroom composes it once`);
  }
  for (const tag of rule.required ?? []) {
    if (!seen.has(tag)) problems.push(`${path}/${tag}: missing; headroom always composes it`);
  }
  if (rule.text) {
    if (!rule.text(text)) problems.push(`${path}: ${shown(text)} is not allowed`);
  } else if (text.trim() !== "") {
    problems.push(`${path}: holds text ${shown(text.trim())} where none belongs`);
  }
}

/**
 * Every way `xml` departs from what composeDomain writes for `allowed`, one
 * message each naming the element (`domain/devices/hostdev`); empty when none.
 */
export function composedDomainProblems(xml: string, allowed: ComposedAllowance): string[] {
  let domain: Element;
  try {
    const parsed = parseDomain(xml);
    domain = parsed.domain;
    // composeDomain writes the root element alone. Anything beside it is
    // refused: a DOCTYPE could declare entities, and an XML declaration could
    // name an encoding libvirt would read differently from this parser.
    for (const node of Array.from(parsed.doc.childNodes)) {
      if (node === domain) continue;
      if (node.nodeType === TEXT_NODE && (node.nodeValue ?? "").trim() === "") continue;
      return [
        `the document holds ${outside(node)} beside <domain>; headroom composes <domain> alone`,
      ];
    }
  } catch (error) {
    if (error instanceof DomainXmlError) return [error.message];
    throw error;
  }
  const problems: string[] = [];
  checkElement(domain, rulesFor(allowed), "domain", problems);
  const nics = domain.getElementsByTagName("interface").length;
  if (nics !== allowed.interfaces)
    problems.push(
      `domain/devices: ${nics} interfaces where the VMI declares ${allowed.interfaces}`,
    );
  if (allowed.guest) problems.push(...guestProblems(domain, allowed.guest));
  problems.push(...rawDiskProblems(domain, allowed.seedFiles ?? [], allowed.hostDiskFiles ?? []));
  return problems;
}

/**
 * A raw disk is a seed file, read-only, or a host disk; those are never read
 * any other way. A guest that could write a raw file QEMU later opened as
 * qcow2 could name any host file as its backing file.
 */
function rawDiskProblems(
  domain: Element,
  seeds: readonly string[],
  hostDisks: readonly string[],
): string[] {
  const problems: string[] = [];
  for (const disk of Array.from(domain.getElementsByTagName("disk"))) {
    const format = disk.getElementsByTagName("driver")[0]?.getAttribute("type") ?? "";
    const file = disk.getElementsByTagName("source")[0]?.getAttribute("file") ?? "";
    const readonly = disk.getElementsByTagName("readonly").length > 0;
    const seed = seeds.includes(file);
    const rawAllowed = seed || hostDisks.includes(file);
    // An empty CD-ROM drive (tray open) reads no file at all.
    const empty = disk.getAttribute("device") === "cdrom" && file === "";
    if (!empty && (rawAllowed !== (format === "raw") || (seed && !readonly)))
      problems.push(
        `domain/devices/disk: ${shown(file)} as ${format}${readonly ? ", read-only" : ""}; only a cloud-init seed (read-only) and a host disk are raw, and they are never anything else`,
      );
    const target = disk.getElementsByTagName("target")[0];
    const bus = target?.getAttribute("bus") ?? "";
    const cdrom = disk.getAttribute("device") === "cdrom";
    const hasSource = disk.getElementsByTagName("source").length > 0;
    if (target?.hasAttribute("tray") && (!cdrom || hasSource))
      problems.push(
        `domain/devices/disk: an open tray on ${shown(file)}; only an empty CD-ROM drive has one`,
      );
    const driver = disk.getElementsByTagName("driver")[0];
    if (driver?.getAttribute("io") === "native" && driver.getAttribute("cache") !== "none")
      problems.push(
        `domain/devices/disk: ${shown(file)} with native IO through the host's cache; native IO needs cache none`,
      );
    const blockio = disk.getElementsByTagName("blockio")[0];
    if (
      blockio &&
      Number(blockio.getAttribute("logical_block_size")) >
        Number(blockio.getAttribute("physical_block_size"))
    )
      problems.push(`domain/devices/disk: ${shown(file)} has a logical block larger than physical`);
    if (cdrom && (!readonly || bus === "virtio"))
      problems.push(
        `domain/devices/disk: CD-ROM ${shown(file)} on ${shown(bus)}${readonly ? "" : ", writable"}; a CD-ROM drive is read-only, on sata or scsi`,
      );
    if (disk.getElementsByTagName("shareable").length > 0 && !hostDisks.includes(file))
      problems.push(
        `domain/devices/disk: ${shown(file)} is shareable, and only a host disk may be`,
      );
  }
  return problems;
}

/** The domain gives the guest what the VMI asked for: no more memory or vCPUs, the same machine. */
function guestProblems(domain: Element, guest: NonNullable<ComposedAllowance["guest"]>): string[] {
  const problems: string[] = [];
  const text = (tag: string) => domain.getElementsByTagName(tag)[0]?.textContent?.trim() ?? "";
  if (text("memory") !== String(guest.memoryKiB))
    problems.push(
      `domain/memory: ${shown(text("memory"))} KiB where the VMI has ${guest.memoryKiB}`,
    );
  if (text("vcpu") !== String(guest.vcpus))
    problems.push(`domain/vcpu: ${shown(text("vcpu"))} where the VMI has ${guest.vcpus}`);
  const machine = domain.getElementsByTagName("type")[0]?.getAttribute("machine") ?? "";
  if (machine !== guest.machineType)
    problems.push(
      `domain/os/type: machine ${shown(machine)} where the VMI has ${guest.machineType}`,
    );
  return [...problems, ...firmwareProblems(domain, guest)];
}

/** The firmware, Secure Boot and SMM are the VMI's: a plan cannot turn any of them on or off. */
function firmwareProblems(domain: Element, guest: GuestAllowance): string[] {
  const problems: string[] = [];
  const os = domain.getElementsByTagName("os")[0];
  const bootloader = os?.getAttribute("firmware") === "efi" ? "efi" : "bios";
  const wantedLoader = guest.bootloader ?? "bios";
  if (bootloader !== wantedLoader)
    problems.push(`domain/os: ${bootloader} where the VMI has ${wantedLoader}`);
  // The firmware's features only: the CPU has features of its own.
  const features = Array.from(os?.getElementsByTagName("feature") ?? []).map(
    (feature) => `${feature.getAttribute("name")}=${feature.getAttribute("enabled")}`,
  );
  const nvram = os?.getElementsByTagName("nvram").length ?? 0;
  if (bootloader === "efi") {
    const on = guest.secureBoot ? "yes" : "no";
    if (features.sort().join(",") !== `enrolled-keys=${on},secure-boot=${on}`)
      problems.push(
        `domain/os/firmware: ${shown(features.join(","))} where the VMI has Secure Boot ${guest.secureBoot ? "on" : "off"}`,
      );
    if (nvram !== 1)
      problems.push("domain/os/nvram: missing; a UEFI guest keeps its variables in its own file");
  } else if (features.length > 0 || nvram > 0) {
    problems.push("domain/os: firmware features or NVRAM for a BIOS guest");
  }
  const smm = domain.getElementsByTagName("smm").length > 0;
  if (smm !== (guest.smm ?? false))
    problems.push(
      `domain/features/smm: ${smm ? "on" : "off"} where the VMI has it ${guest.smm ? "on" : "off"}`,
    );
  return problems;
}
