/** The typed description of a domain that `composeDomain` turns into libvirt XML. */

export type MachineFamily = "q35" | "pc";
export type VirtType = "kvm" | "qemu";
export type DiskBus = "virtio" | "sata" | "scsi";
export type DiskFormat = "qcow2" | "raw";
export type NicKind = "pod" | "bridge";
/** The libvirt network pod NICs join (`<interface type='network'>`). */
export const POD_NETWORK = "headroom-pod";
export type NicModel = "virtio" | "virtio-non-transitional" | "e1000" | "e1000e" | "rtl8139";
export type DiskCache = "none" | "writethrough" | "writeback";
export type DiskErrorPolicy = "stop" | "ignore" | "report" | "enospace";
export type DiskIo = "native" | "threads";

/** The model hot-plugged NICs and their placeholders use unless told otherwise. */
export const DEFAULT_NIC_MODEL: NicModel = "virtio-non-transitional";

export interface KernelBootSpec {
  /** Host path of the kernel image. */
  kernelPath: string;
  /** Host path of the initrd, when there is one. */
  initrdPath?: string;
  /** Kernel command line. */
  cmdline?: string;
}

/**
 * UEFI: libvirt picks OVMF from the host's firmware descriptors (with Secure
 * Boot and Microsoft's keys enrolled, or without Secure Boot), and keeps the
 * guest's EFI variables in `nvramPath`, made from the firmware's template.
 */
export interface EfiSpec {
  secureBoot: boolean;
  nvramPath: string;
}

/** The guest's RTC: UTC (moved by `utcOffsetSeconds`) or a time zone's local time. */
export type ClockSpec = (
  | { utcOffsetSeconds: number; timezone?: undefined }
  | { timezone: string; utcOffsetSeconds?: undefined }
) & { timers: TimerSpec[] };

export interface TimerSpec {
  name: "hpet" | "pit" | "rtc";
  present?: boolean;
  tickPolicy?: "delay" | "catchup" | "merge" | "discard";
  track?: "guest" | "wall";
}

export interface DiskSpec {
  /** The VMI disk name; becomes the alias `ua-disk-<name>`. */
  name: string;
  bus: DiskBus;
  /** Host path of the image file. */
  sourceFile: string;
  format: DiskFormat;
  readonly?: boolean;
  /** Its place in the boot order, from 1; a domain with any has no `<os><boot dev>`. */
  bootOrder?: number;
  /** Up to 20 of [A-Za-z0-9._-], shown to the guest. */
  serial?: string;
  cache?: DiskCache;
  /** What the guest sees when a write fails on the host (libvirt's error_policy). */
  errorPolicy?: DiskErrorPolicy;
  /** native (Linux AIO, with cache none) or threads. */
  io?: DiskIo;
  /** The block sizes the guest sees, in bytes (powers of 2, logical ≤ physical). */
  blockSize?: { logical: number; physical: number };
  /** The IO thread (1 to the domain's ioThreads) serving this virtio disk. */
  ioThread?: number;
  /** Other domains may use the file at once (a raw host disk, read past the host's cache). */
  shareable?: boolean;
  /** A CD-ROM drive (sata or scsi, read-only) instead of a disk; `trayOpen`: empty, no source. */
  cdrom?: { trayOpen: boolean };
}

export interface NicSpec {
  /** The VMI interface name; becomes the alias `ua-net-<name>`. */
  name: string;
  /** `pod`: the host's pod network (NAT, see POD_NETWORK); `bridge`: a host bridge. */
  kind: NicKind;
  /** Host bridge name; required for kind `bridge`. */
  bridge?: string;
  model: NicModel;
  /** Unicast MAC address `xx:xx:xx:xx:xx:xx`; libvirt generates one when absent. */
  mac?: string;
  /** Queue pairs of a virtio NIC (networkInterfaceMultiqueue: one per vCPU). */
  queues?: number;
  /** Its place in the boot order, from 1 (network boot). */
  bootOrder?: number;
  /** The index the guest's firmware gives the NIC (1 to 16383). */
  acpiIndex?: number;
  /** The guest sees the link down. */
  linkDown?: boolean;
}

export interface DomainSpec {
  /** libvirt domain name. */
  name: string;
  uuid: string;
  /** One line, e.g. the VMI `namespace/name`. */
  title: string;
  description: string;
  virtType: VirtType;
  machine: MachineFamily;
  vcpus: number;
  memoryKiB: number;
  kernelBoot?: KernelBootSpec;
  /** The SMBIOS system serial the guest reads: up to 64 of [A-Za-z0-9._-]. */
  smbiosSerial?: string;
  /** The SMBIOS chassis the guest reads, each entry as smbiosSerial. */
  chassis?: Partial<Record<ChassisEntry, string>>;
  /** UEFI firmware; SeaBIOS when absent. */
  efi?: EfiSpec;
  /** SeaBIOS also prints to the serial console. */
  biosSerial?: boolean;
  /** System Management Mode; UEFI Secure Boot needs it. */
  smm?: boolean;
  /** host-model, host-passthrough, or a CPU model by name; QEMU's default when absent. */
  cpuModel?: string;
  /** Features added to or taken from the model (host-model when cpuModel is absent). */
  cpuFeatures?: CpuFeatureSpec[];
  /** UTC with no timers changed when absent. */
  clock?: ClockSpec;
  /** A TPM 2.0 emulated by swtpm. */
  tpm?: boolean;
  /** false: no memory balloon (libvirt adds a virtio one otherwise). */
  memBalloon?: boolean;
  /** Queues of each virtio disk (a queue per vCPU); QEMU's default when absent. */
  diskQueues?: number;
  /** IO threads QEMU runs for the disks that name one. */
  ioThreads?: number;
  /** A display adapter, with no display attached. */
  video?: "vga" | "bochs" | "virtio" | "cirrus";
  /** An Intel 6300ESB watchdog and what it does when the guest stops feeding it. */
  watchdog?: "poweroff" | "reset" | "shutdown";
  disks: DiskSpec[];
  interfaces: NicSpec[];
  /** Host file the serial console is logged to (read by `headroom logs`). */
  serialConsoleLogPath?: string;
  /** Adds a virtio RNG fed by the host's /dev/urandom. */
  rng: boolean;
}

/** A DomainSpec field is wrong; `path` names the field (e.g. `interfaces[1].name`). */
export class DomainSpecError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "DomainSpecError";
  }
}

// XML 1.0 cannot carry C0 controls other than tab/newline/CR, lone surrogates, U+FFFE/U+FFFF,
// not even as character references, so such values are refused rather than escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const CONTROL_CHAR = /[\u0000-\u001F\u007F-\u009F]/;
// Multi-line text keeps tab and newline; CR would not survive XML's line-end normalisation.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters refused
const CONTROL_CHAR_BUT_TAB_LF = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/;

const LIMITS = {
  name: 200,
  title: 1024,
  description: 65536,
  path: 4096,
  // Linux x86 COMMAND_LINE_SIZE
  cmdline: 2048,
  // IFNAMSIZ - 1
  bridge: 15,
  deviceName: 100,
} as const;

/** Characters libvirt accepts in a user alias (`ua-` prefix). */
export const ALIAS_NAME = /^[A-Za-z0-9_-]+$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const BRIDGE = /^[A-Za-z0-9_.-]+$/;

/** What composeDomain writes and the plan check allows, from one place. */
export const CPU_MODEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const CPU_FEATURE = /^[a-z0-9][a-z0-9_.-]{0,31}$/;
export const CPU_FEATURE_POLICIES = ["require", "force", "optional", "disable", "forbid"] as const;

export interface CpuFeatureSpec {
  name: string;
  policy: (typeof CPU_FEATURE_POLICIES)[number];
}
export const TIME_ZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+){0,2}$/;
export const SMBIOS_SERIAL = /^[A-Za-z0-9._-]{1,64}$/;
/** libvirt's `<sysinfo><chassis>` entries, KubeVirt's chassis fields. */
export const CHASSIS_ENTRIES = ["manufacturer", "version", "serial", "asset", "sku"] as const;
export type ChassisEntry = (typeof CHASSIS_ENTRIES)[number];
export const DISK_SERIAL = /^[A-Za-z0-9._-]{1,20}$/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function hasLoneSurrogate(value: string): boolean {
  return LONE_SURROGATE.test(value);
}

function text(
  path: string,
  value: unknown,
  max: number,
  opts: { multiline?: boolean; empty?: boolean } = {},
): string {
  if (typeof value !== "string") throw new DomainSpecError(path, "must be a string");
  if (!opts.empty && value.length === 0) throw new DomainSpecError(path, "must not be empty");
  if (value.length > max)
    throw new DomainSpecError(path, `is ${value.length} characters long; at most ${max} allowed`);
  if (hasLoneSurrogate(value) || NOT_XML_CHAR.test(value))
    throw new DomainSpecError(path, "contains characters XML cannot carry");
  if (opts.multiline) {
    if (CONTROL_CHAR_BUT_TAB_LF.test(value))
      throw new DomainSpecError(
        path,
        "must not contain control characters other than tab and newline",
      );
  } else if (CONTROL_CHAR.test(value)) {
    throw new DomainSpecError(path, "must be one line without control characters");
  }
  return value;
}

function absolutePath(path: string, value: unknown): string {
  const p = text(path, value, LIMITS.path);
  if (!p.startsWith("/")) throw new DomainSpecError(path, "must be an absolute host path");
  return p;
}

function deviceName(path: string, value: unknown): string {
  const n = text(path, value, LIMITS.deviceName);
  if (!ALIAS_NAME.test(n))
    throw new DomainSpecError(path, "may hold only letters, digits, '-' and '_'");
  return n;
}

function oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value))
    throw new DomainSpecError(path, `must be one of ${allowed.join(", ")}`);
  return value as T;
}

function positiveInt(path: string, value: unknown, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max)
    throw new DomainSpecError(path, `must be a whole number from 1 to ${max}`);
  return value;
}

export const ERROR_POLICIES = ["stop", "ignore", "report", "enospace"] as const;

/** A domain's IO threads at most: KubeVirt's auto pool is two per vCPU. */
export const MAX_IO_THREADS = 128;

export const NIC_MODELS: readonly NicModel[] = [
  "virtio",
  "virtio-non-transitional",
  "e1000",
  "e1000e",
  "rtl8139",
];

/** Whether `name` is a host bridge name a domain may join: 1 to 15 letters, digits, "_", "." or "-". */
export function isBridgeName(name: string): boolean {
  return name.length <= LIMITS.bridge && BRIDGE.test(name);
}

/** Checks one NIC description (also used for hot-plug XML). */
export function checkNic(nic: NicSpec, path = "nic"): void {
  deviceName(`${path}.name`, nic.name);
  const kind = oneOf(`${path}.kind`, nic.kind, ["pod", "bridge"] as const);
  oneOf(`${path}.model`, nic.model, NIC_MODELS);
  if (kind === "bridge") {
    const b = text(`${path}.bridge`, nic.bridge, LIMITS.bridge);
    if (!isBridgeName(b))
      throw new DomainSpecError(`${path}.bridge`, "is not a valid host interface name");
  } else if (nic.bridge !== undefined) {
    throw new DomainSpecError(`${path}.bridge`, "is only allowed for kind bridge");
  }
  if (nic.mac !== undefined) {
    const mac = text(`${path}.mac`, nic.mac, 17);
    if (!MAC.test(mac))
      throw new DomainSpecError(`${path}.mac`, "must look like 02:00:00:00:00:01");
    if (Number.parseInt(mac.slice(0, 2), 16) & 1)
      throw new DomainSpecError(`${path}.mac`, "must be a unicast address (first octet even)");
  }
  if (nic.queues !== undefined) {
    positiveInt(`${path}.queues`, nic.queues, 64);
    if (!nic.model.startsWith("virtio"))
      throw new DomainSpecError(`${path}.queues`, "is only for virtio NICs");
  }
  if (nic.bootOrder !== undefined) positiveInt(`${path}.bootOrder`, nic.bootOrder, 64);
  if (nic.acpiIndex !== undefined) positiveInt(`${path}.acpiIndex`, nic.acpiIndex, 16383);
  if (nic.linkDown !== undefined && typeof nic.linkDown !== "boolean")
    throw new DomainSpecError(`${path}.linkDown`, "must be true or false");
}

/** A block size the guest sees: a power of 2 from 512 bytes to 2 MiB. */
function blockSize(path: string, value: unknown): number {
  const size = positiveInt(path, value, 2 * 1024 * 1024);
  if (size < 512 || (size & (size - 1)) !== 0)
    throw new DomainSpecError(path, "must be a power of 2 from 512 to 2097152");
  return size;
}

/**
 * Refuses a DomainSpec that libvirt would reject or that XML cannot carry, naming the field.
 * Everything else is escaped by the XML library when composed.
 */
export function checkDomainSpec(spec: DomainSpec): void {
  const name = text("name", spec.name, LIMITS.name);
  if (name.includes("/")) throw new DomainSpecError("name", "must not contain '/'");
  if (!UUID.test(text("uuid", spec.uuid, 36)))
    throw new DomainSpecError("uuid", "must be a UUID like 8c5e7a52-0f0e-4d7a-9d1e-5f0c6c0b8e11");
  text("title", spec.title, LIMITS.title, { empty: true });
  text("description", spec.description, LIMITS.description, { multiline: true, empty: true });
  oneOf("virtType", spec.virtType, ["kvm", "qemu"] as const);
  oneOf("machine", spec.machine, ["q35", "pc"] as const);
  positiveInt("vcpus", spec.vcpus, 4096);
  // 16 TiB
  positiveInt("memoryKiB", spec.memoryKiB, 16 * 1024 ** 3);
  if (spec.kernelBoot !== undefined) {
    absolutePath("kernelBoot.kernelPath", spec.kernelBoot.kernelPath);
    if (spec.kernelBoot.initrdPath !== undefined)
      absolutePath("kernelBoot.initrdPath", spec.kernelBoot.initrdPath);
    if (spec.kernelBoot.cmdline !== undefined)
      text("kernelBoot.cmdline", spec.kernelBoot.cmdline, LIMITS.cmdline, { empty: true });
  }
  if (spec.efi !== undefined) {
    absolutePath("efi.nvramPath", spec.efi.nvramPath);
    if (spec.efi.secureBoot && !spec.smm)
      throw new DomainSpecError(
        "efi.secureBoot",
        "needs smm (OVMF's Secure Boot build requires it)",
      );
    if (spec.efi.secureBoot && spec.machine !== "q35")
      throw new DomainSpecError(
        "efi.secureBoot",
        "needs machine q35 (OVMF has Secure Boot only there)",
      );
    if (spec.biosSerial) throw new DomainSpecError("biosSerial", "is SeaBIOS's, not UEFI's");
  }
  if (spec.diskQueues !== undefined) positiveInt("diskQueues", spec.diskQueues, 64);
  if (spec.ioThreads !== undefined) positiveInt("ioThreads", spec.ioThreads, MAX_IO_THREADS);
  if (spec.video !== undefined)
    oneOf("video", spec.video, ["vga", "bochs", "virtio", "cirrus"] as const);
  if (spec.watchdog !== undefined)
    oneOf("watchdog", spec.watchdog, ["poweroff", "reset", "shutdown"] as const);
  if (spec.cpuModel !== undefined && !CPU_MODEL.test(spec.cpuModel))
    throw new DomainSpecError("cpuModel", "must be 1 to 64 of A-Z a-z 0-9 . _ -");
  (spec.cpuFeatures ?? []).forEach((feature, i) => {
    if (!CPU_FEATURE.test(feature.name))
      throw new DomainSpecError(`cpuFeatures[${i}].name`, "must be 1 to 32 of a-z 0-9 _ . -");
    oneOf(`cpuFeatures[${i}].policy`, feature.policy, CPU_FEATURE_POLICIES);
  });
  if (spec.clock?.timezone !== undefined && !TIME_ZONE.test(spec.clock.timezone))
    throw new DomainSpecError("clock.timezone", "must be an IANA time zone name");
  if (
    spec.clock?.utcOffsetSeconds !== undefined &&
    !Number.isSafeInteger(spec.clock.utcOffsetSeconds)
  )
    throw new DomainSpecError("clock.utcOffsetSeconds", "must be a whole number");
  if (spec.smbiosSerial !== undefined && !SMBIOS_SERIAL.test(spec.smbiosSerial))
    throw new DomainSpecError("smbiosSerial", "must be 1 to 64 of A-Z a-z 0-9 . _ -");
  for (const [entry, value] of Object.entries(spec.chassis ?? {})) {
    oneOf("chassis", entry, CHASSIS_ENTRIES);
    if (!SMBIOS_SERIAL.test(value))
      throw new DomainSpecError(`chassis.${entry}`, "must be 1 to 64 of A-Z a-z 0-9 . _ -");
  }
  if (!Array.isArray(spec.disks)) throw new DomainSpecError("disks", "must be a list");
  const diskNames = new Set<string>();
  spec.disks.forEach((disk, i) => {
    const path = `disks[${i}]`;
    const n = deviceName(`${path}.name`, disk.name);
    if (diskNames.has(n)) throw new DomainSpecError(`${path}.name`, `repeats disk name '${n}'`);
    diskNames.add(n);
    oneOf(`${path}.bus`, disk.bus, ["virtio", "sata", "scsi"] as const);
    absolutePath(`${path}.sourceFile`, disk.sourceFile);
    oneOf(`${path}.format`, disk.format, ["qcow2", "raw"] as const);
    if (disk.readonly !== undefined && typeof disk.readonly !== "boolean")
      throw new DomainSpecError(`${path}.readonly`, "must be true or false");
    if (disk.bootOrder !== undefined) positiveInt(`${path}.bootOrder`, disk.bootOrder, 64);
    if (disk.serial !== undefined && !DISK_SERIAL.test(disk.serial))
      throw new DomainSpecError(`${path}.serial`, "must be 1 to 20 of A-Z a-z 0-9 . _ -");
    if (disk.cache !== undefined)
      oneOf(`${path}.cache`, disk.cache, ["none", "writethrough", "writeback"] as const);
    if (disk.errorPolicy !== undefined)
      oneOf(`${path}.errorPolicy`, disk.errorPolicy, ERROR_POLICIES);
    if (disk.io !== undefined) oneOf(`${path}.io`, disk.io, ["native", "threads"] as const);
    if (disk.io === "native" && disk.cache !== "none")
      throw new DomainSpecError(`${path}.io`, "native needs cache none");
    if (disk.blockSize !== undefined) {
      const logical = blockSize(`${path}.blockSize.logical`, disk.blockSize.logical);
      if (logical > blockSize(`${path}.blockSize.physical`, disk.blockSize.physical))
        throw new DomainSpecError(`${path}.blockSize.logical`, "must be no more than physical");
    }
    if (disk.cdrom !== undefined) {
      if (disk.bus === "virtio")
        throw new DomainSpecError(`${path}.bus`, "is sata or scsi for a CD-ROM drive");
      if (disk.readonly !== true)
        throw new DomainSpecError(`${path}.readonly`, "is true for a CD-ROM drive");
      if (typeof disk.cdrom.trayOpen !== "boolean")
        throw new DomainSpecError(`${path}.cdrom.trayOpen`, "must be true or false");
    }
    if (disk.shareable && (disk.format !== "raw" || (disk.cache ?? "none") !== "none"))
      throw new DomainSpecError(`${path}.shareable`, "is only for raw disks with cache none");
    if (disk.ioThread !== undefined) {
      if (spec.ioThreads === undefined)
        throw new DomainSpecError(`${path}.ioThread`, "needs the domain's ioThreads");
      positiveInt(`${path}.ioThread`, disk.ioThread, spec.ioThreads);
      if (disk.bus !== "virtio")
        throw new DomainSpecError(`${path}.ioThread`, "is only for virtio disks");
    }
  });
  if (!Array.isArray(spec.interfaces)) throw new DomainSpecError("interfaces", "must be a list");
  const nicNames = new Set<string>();
  const macs = new Set<string>();
  spec.interfaces.forEach((nic, i) => {
    const path = `interfaces[${i}]`;
    checkNic(nic, path);
    if (nicNames.has(nic.name))
      throw new DomainSpecError(`${path}.name`, `repeats interface name '${nic.name}'`);
    nicNames.add(nic.name);
    if (nic.mac !== undefined) {
      const mac = nic.mac.toLowerCase();
      if (macs.has(mac)) throw new DomainSpecError(`${path}.mac`, `repeats MAC ${nic.mac}`);
      macs.add(mac);
    }
  });
  if (spec.serialConsoleLogPath !== undefined)
    absolutePath("serialConsoleLogPath", spec.serialConsoleLogPath);
  if (typeof spec.rng !== "boolean") throw new DomainSpecError("rng", "must be true or false");
}
