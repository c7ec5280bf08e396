/** DomainSpec → libvirt domain XML, built element by element (no string pasting). */
import {
  type CpuFeatureSpec,
  checkDomainSpec,
  checkNic,
  type DiskBus,
  type DiskSpec,
  type DomainSpec,
  type NicSpec,
  POD_NETWORK,
} from "./spec.ts";
import { newDocument, serialize, type XElement } from "./xml.ts";

/** libvirt requires user-chosen aliases to start with this prefix. */
export const USER_ALIAS_PREFIX = "ua-";
export const NIC_ALIAS_PREFIX = `${USER_ALIAS_PREFIX}net-`;
export const DISK_ALIAS_PREFIX = `${USER_ALIAS_PREFIX}disk-`;

export function nicAlias(name: string): string {
  return `${NIC_ALIAS_PREFIX}${name}`;
}

export function diskAlias(name: string): string {
  return `${DISK_ALIAS_PREFIX}${name}`;
}

/** 0 → "a", 25 → "z", 26 → "aa", as libvirt and Linux name disks. */
export function diskLetters(index: number): string {
  let n = index;
  let out = "";
  do {
    out = String.fromCharCode(97 + (n % 26)) + out;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return out;
}

// SATA and SCSI disks share the sd* names, as in the guest.
const TARGET_PREFIX: Record<DiskBus, "vd" | "sd"> = { virtio: "vd", sata: "sd", scsi: "sd" };

/** Target device names in spec order: vda, vdb, … for virtio; sda, sdb, … for SATA and SCSI. */
export function diskTargets(disks: readonly DiskSpec[]): string[] {
  const next = { vd: 0, sd: 0 };
  return disks.map((d) => {
    const prefix = TARGET_PREFIX[d.bus];
    return `${prefix}${diskLetters(next[prefix]++)}`;
  });
}

function diskElement(disk: DiskSpec, target: string, queues?: number): XElement {
  const driver = {
    name: "qemu",
    type: disk.format,
    ...(disk.cache ? { cache: disk.cache } : {}),
    // Queues are virtio-blk's; SATA and SCSI disks have none of their own.
    ...(queues !== undefined && disk.bus === "virtio" ? { queues: String(queues) } : {}),
    ...(disk.ioThread !== undefined ? { iothread: String(disk.ioThread) } : {}),
    ...(disk.errorPolicy ? { error_policy: disk.errorPolicy } : {}),
    ...(disk.io ? { io: disk.io } : {}),
  };
  // An open tray holds no disc: the guest sees an empty drive.
  const empty = disk.cdrom?.trayOpen === true;
  const children: XElement[] = [
    { tag: "driver", attrs: driver },
    ...(empty ? [] : [{ tag: "source", attrs: { file: disk.sourceFile } }]),
    {
      tag: "target",
      attrs: { dev: target, bus: disk.bus, ...(empty ? { tray: "open" } : {}) },
    },
  ];
  if (disk.bootOrder !== undefined)
    children.push({ tag: "boot", attrs: { order: String(disk.bootOrder) } });
  if (disk.serial !== undefined) children.push({ tag: "serial", text: disk.serial });
  if (disk.blockSize)
    children.push({
      tag: "blockio",
      attrs: {
        logical_block_size: String(disk.blockSize.logical),
        physical_block_size: String(disk.blockSize.physical),
      },
    });
  if (disk.readonly) children.push({ tag: "readonly" });
  if (disk.shareable) children.push({ tag: "shareable" });
  children.push({ tag: "alias", attrs: { name: diskAlias(disk.name) } });
  const device = disk.cdrom ? "cdrom" : "disk";
  return { tag: "disk", attrs: { type: "file", device }, children };
}

function interfaceElement(nic: NicSpec): XElement {
  const children: XElement[] = [];
  if (nic.mac !== undefined)
    children.push({ tag: "mac", attrs: { address: nic.mac.toLowerCase() } });
  if (nic.kind === "bridge") children.push({ tag: "source", attrs: { bridge: nic.bridge } });
  else children.push({ tag: "source", attrs: { network: POD_NETWORK } });
  children.push({ tag: "model", attrs: { type: nic.model } });
  if (nic.queues !== undefined)
    children.push({ tag: "driver", attrs: { queues: String(nic.queues) } });
  if (nic.bootOrder !== undefined)
    children.push({ tag: "boot", attrs: { order: String(nic.bootOrder) } });
  if (nic.acpiIndex !== undefined)
    children.push({ tag: "acpi", attrs: { index: String(nic.acpiIndex) } });
  if (nic.linkDown) children.push({ tag: "link", attrs: { state: "down" } });
  children.push({ tag: "alias", attrs: { name: nicAlias(nic.name) } });
  const type = nic.kind === "bridge" ? "bridge" : "network";
  return { tag: "interface", attrs: { type }, children };
}

/** The SMBIOS tables the guest reads (system serial, chassis), when the VMI sets any. */
function sysinfoElements(spec: DomainSpec): XElement[] {
  const entries = (values: Record<string, string | undefined>): XElement[] =>
    Object.entries(values).flatMap(([name, text]) =>
      text === undefined ? [] : [{ tag: "entry", attrs: { name }, text }],
    );
  const children: XElement[] = [];
  if (spec.smbiosSerial !== undefined)
    children.push({ tag: "system", children: entries({ serial: spec.smbiosSerial }) });
  if (spec.chassis && Object.keys(spec.chassis).length > 0)
    children.push({ tag: "chassis", children: entries(spec.chassis) });
  return children.length === 0 ? [] : [{ tag: "sysinfo", attrs: { type: "smbios" }, children }];
}

/**
 * host-model and host-passthrough are libvirt's modes; any other name is a
 * model QEMU must have. Features need a model: host-model, KubeVirt's default,
 * when the VMI names none.
 */
function cpuElements(model: string | undefined, features: readonly CpuFeatureSpec[]): XElement[] {
  if (model === undefined && features.length === 0) return [];
  const chosen = model ?? "host-model";
  const featureElements: XElement[] = features.map((feature) => ({
    tag: "feature",
    attrs: { policy: feature.policy, name: feature.name },
  }));
  if (chosen === "host-model" || chosen === "host-passthrough")
    return [{ tag: "cpu", attrs: { mode: chosen }, children: featureElements }];
  return [
    {
      tag: "cpu",
      attrs: { mode: "custom", match: "exact" },
      children: [{ tag: "model", attrs: { fallback: "forbid" }, text: chosen }, ...featureElements],
    },
  ];
}

/** libvirt's utc offset moves the RTC by `adjustment` seconds; a timezone keeps local time in it. */
function clockElement(clock: DomainSpec["clock"]): XElement {
  const attrs: Record<string, string> =
    clock?.timezone !== undefined
      ? { offset: "timezone", timezone: clock.timezone }
      : clock?.utcOffsetSeconds
        ? { offset: "utc", adjustment: String(clock.utcOffsetSeconds) }
        : { offset: "utc" };
  const timers: XElement[] = (clock?.timers ?? []).map((timer) => ({
    tag: "timer",
    attrs: {
      name: timer.name,
      ...(timer.present !== undefined ? { present: timer.present ? "yes" : "no" } : {}),
      ...(timer.tickPolicy !== undefined ? { tickpolicy: timer.tickPolicy } : {}),
      ...(timer.track !== undefined ? { track: timer.track } : {}),
    },
  }));
  return { tag: "clock", attrs, children: timers };
}

/**
 * `<os firmware="efi">`'s children: libvirt picks the OVMF build whose
 * features match (Secure Boot with Microsoft's keys enrolled, or neither) and
 * makes the NVRAM file from its template on first start.
 */
function efiElements(efi: DomainSpec["efi"]): XElement[] {
  if (!efi) return [];
  const enabled = efi.secureBoot ? "yes" : "no";
  return [
    {
      tag: "firmware",
      children: [
        { tag: "feature", attrs: { enabled, name: "secure-boot" } },
        { tag: "feature", attrs: { enabled, name: "enrolled-keys" } },
      ],
    },
    { tag: "nvram", text: efi.nvramPath },
  ];
}

/**
 * The libvirt domain XML for `spec`, without placeholders and without PCI addresses (libvirt
 * assigns them on define). Throws DomainSpecError naming the field when the spec is refused.
 */
export function composeDomain(spec: DomainSpec): string {
  checkDomainSpec(spec);
  const os: XElement[] = [
    { tag: "type", attrs: { arch: "x86_64", machine: spec.machine }, text: "hvm" },
    ...efiElements(spec.efi),
  ];
  if (spec.kernelBoot) {
    os.push({ tag: "kernel", text: spec.kernelBoot.kernelPath });
    if (spec.kernelBoot.initrdPath !== undefined)
      os.push({ tag: "initrd", text: spec.kernelBoot.initrdPath });
    if (spec.kernelBoot.cmdline !== undefined)
      os.push({ tag: "cmdline", text: spec.kernelBoot.cmdline });
  } else if (![...spec.disks, ...spec.interfaces].some((d) => d.bootOrder !== undefined)) {
    // libvirt takes a boot order per device or for the domain, never both.
    os.push({ tag: "boot", attrs: { dev: "hd" } });
  }
  const sysinfo = sysinfoElements(spec);
  if (sysinfo.length > 0) os.push({ tag: "smbios", attrs: { mode: "sysinfo" } });
  if (spec.biosSerial) os.push({ tag: "bios", attrs: { useserial: "yes" } });

  const targets = diskTargets(spec.disks);
  const devices: XElement[] = [
    ...spec.disks.map((d, i) => diskElement(d, targets[i] as string, spec.diskQueues)),
    // No USB: a headless guest needs none, and on q35 it would take a root port.
    { tag: "controller", attrs: { type: "usb", model: "none" } },
    // SCSI disks get virtio-scsi, as in KubeVirt, rather than libvirt's default emulated HBA.
    ...(spec.disks.some((d) => d.bus === "scsi")
      ? [{ tag: "controller", attrs: { type: "scsi", index: "0", model: "virtio-scsi" } }]
      : []),
    ...spec.interfaces.map(interfaceElement),
  ];
  if (spec.serialConsoleLogPath !== undefined) {
    // A pty keeps `virsh console` usable; virtlogd copies everything to the log file.
    devices.push({
      tag: "serial",
      attrs: { type: "pty" },
      children: [
        { tag: "log", attrs: { file: spec.serialConsoleLogPath, append: "on" } },
        { tag: "target", attrs: { port: "0" } },
      ],
    });
    devices.push({
      tag: "console",
      attrs: { type: "pty" },
      children: [{ tag: "target", attrs: { type: "serial", port: "0" } }],
    });
  }
  if (spec.video) {
    devices.push({ tag: "video", children: [{ tag: "model", attrs: { type: spec.video } }] });
  }
  if (spec.watchdog) {
    devices.push({ tag: "watchdog", attrs: { model: "i6300esb", action: spec.watchdog } });
  }
  if (spec.memBalloon === false) devices.push({ tag: "memballoon", attrs: { model: "none" } });
  if (spec.tpm) {
    devices.push({
      tag: "tpm",
      attrs: { model: "tpm-tis" },
      children: [{ tag: "backend", attrs: { type: "emulator", version: "2.0" } }],
    });
  }
  if (spec.rng) {
    devices.push({
      tag: "rng",
      attrs: { model: "virtio" },
      children: [{ tag: "backend", attrs: { model: "random" }, text: "/dev/urandom" }],
    });
  }

  const domain: XElement = {
    tag: "domain",
    attrs: { type: spec.virtType },
    children: [
      { tag: "name", text: spec.name },
      { tag: "uuid", text: spec.uuid.toLowerCase() },
      ...(spec.title === "" ? [] : [{ tag: "title", text: spec.title }]),
      ...(spec.description === "" ? [] : [{ tag: "description", text: spec.description }]),
      { tag: "memory", attrs: { unit: "KiB" }, text: String(spec.memoryKiB) },
      { tag: "vcpu", attrs: { placement: "static" }, text: String(spec.vcpus) },
      ...(spec.ioThreads === undefined ? [] : [{ tag: "iothreads", text: String(spec.ioThreads) }]),
      ...cpuElements(spec.cpuModel, spec.cpuFeatures ?? []),
      ...sysinfo,
      { tag: "os", attrs: spec.efi ? { firmware: "efi" } : {}, children: os },
      // ACPI is what lets pc (i440fx) hot-plug at all; q35 needs it too.
      {
        tag: "features",
        children: [
          { tag: "acpi" },
          { tag: "apic" },
          ...(spec.smm ? [{ tag: "smm", attrs: { state: "on" } }] : []),
        ],
      },
      clockElement(spec.clock),
      { tag: "on_poweroff", text: "destroy" },
      { tag: "on_reboot", text: "restart" },
      { tag: "on_crash", text: "destroy" },
      { tag: "devices", children: devices },
    ],
  };
  return `${serialize(newDocument(domain))}\n`;
}

/** The `<interface>` XML for hot-plugging `nic` (libvirt attachDevice), alias `ua-net-<name>`. */
export function nicXml(nic: NicSpec): string {
  checkNic(nic);
  return `${serialize(newDocument(interfaceElement(nic)))}\n`;
}
