/**
 * The rules a schema cannot say: quantities, names that must pair up, and the
 * interface request. They run on documents that already passed the schema.
 */
import { toBytes } from "@headroom/quantity";
import {
  INTERFACE_REQUEST_MESSAGE,
  INTERFACE_RESOURCE,
  interfaceRequestValue,
} from "./capacity.ts";
import { child } from "./field-path.ts";
import type { DiskInput, InterfaceInput, NetworkInput, VmiInput, VolumeInput } from "./input.ts";
import type { FieldError } from "./result.ts";
import type { QuantityValue } from "./types.ts";
import { show } from "./words.ts";

export const MIN_MEMORY_BYTES = 16n * 1024n ** 2n; // 16Mi
export const MAX_MEMORY_BYTES = 64n * 1024n ** 3n; // 64Gi
/**
 * Guest memory when the document gives none. KubeVirt would refuse such a VMI,
 * but the seed design's own example has no memory, and headroom accepts it.
 */
export const DEFAULT_GUEST_MEMORY = "128Mi";
/** KubeVirt's terminationGracePeriodSeconds when a VMI gives none. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;
export const MIN_EMPTY_DISK_BYTES = 1024n ** 2n; // 1Mi
export const MAX_EMPTY_DISK_BYTES = 1024n ** 4n; // 1Ti
export const MAX_VCPUS = 64;

const INTERFACES = "spec.domain.devices.interfaces";
const NETWORKS = "spec.networks";
const DISKS = "spec.domain.devices.disks";
const VOLUMES = "spec.volumes";
const REQUESTS = "spec.domain.resources.requests";
const LIMITS = "spec.domain.resources.limits";

/** As Kubernetes: all of a VMI's annotations, keys and values, in at most 256 KiB. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export function checkRules(vmi: VmiInput): FieldError[] {
  return [
    ...checkAnnotations(vmi),
    ...checkMachine(vmi),
    ...checkFirmware(vmi),
    ...checkClock(vmi),
    ...checkCpu(vmi),
    ...checkMemory(vmi),
    ...checkInterfaceRequest(vmi),
    ...checkInterfaces(vmi),
    ...checkPorts(vmi),
    ...checkNetworks(vmi),
    ...checkInterfaceNetworkPairs(vmi),
    ...checkDisksAndVolumes(vmi),
    ...checkIoThreads(vmi),
    ...checkBootOrders(vmi),
    ...checkDiskDrivers(vmi),
    ...checkInterfaceDevices(vmi),
    ...checkDeviceSwitches(vmi),
    ...checkShareable(vmi),
    ...checkCloudInit(vmi),
  ];
}

function checkAnnotations(vmi: VmiInput): FieldError[] {
  const annotations = vmi.metadata.annotations ?? {};
  let bytes = 0;
  for (const [key, value] of Object.entries(annotations))
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  if (bytes <= MAX_ANNOTATIONS_BYTES) return [];
  return [
    {
      field: "metadata.annotations",
      message: `metadata.annotations hold ${bytes} bytes; all of them together may hold at most ${MAX_ANNOTATIONS_BYTES} (256 KiB)`,
    },
  ];
}

/** Machine families headroom composes for; versioned names would pin an ABI headroom does not track. */
function checkMachine(vmi: VmiInput): FieldError[] {
  const type = vmi.spec.domain.machine?.type;
  if (type === undefined || type === "" || type === "q35" || type === "pc") return [];
  const field = "spec.domain.machine.type";
  const family = type.startsWith("pc-q35-") ? "q35" : type.startsWith("pc-i440fx-") ? "pc" : null;
  if (family !== null) {
    return [
      {
        field,
        message: `${field} ${show(type)} is a versioned machine type; headroom takes the family name only: use "${family}"`,
      },
    ];
  }
  return [{ field, message: `${field} must be "q35" or "pc" (got ${show(type)})` }];
}

const FEATURES = "spec.domain.features";
const BOOTLOADER = "spec.domain.firmware.bootloader";

/**
 * One firmware; Secure Boot as KubeVirt allows it (with SMM, which keeps the
 * firmware's variables from the guest's kernel) and where OVMF has it (q35);
 * ACPI and the APIC on, because headroom's guarantee rests on them.
 */
function checkFirmware(vmi: VmiInput): FieldError[] {
  const { firmware, features, machine } = vmi.spec.domain;
  const errors: FieldError[] = [];
  const bootloader = firmware?.bootloader;
  if (bootloader?.bios && bootloader.efi)
    errors.push({
      field: BOOTLOADER,
      message: `${BOOTLOADER} sets both bios and efi; a guest boots with one of them`,
    });
  else if (bootloader?.efi && bootloader.efi.secureBoot !== false) {
    const field = `${BOOTLOADER}.efi.secureBoot`;
    if (!features?.smm || features.smm.enabled === false)
      errors.push({
        field: `${FEATURES}.smm`,
        message: `${FEATURES}.smm must be on for Secure Boot (${field}, on unless false), as in KubeVirt: set ${FEATURES}.smm: {} or secureBoot: false`,
      });
    if (machine?.type === "pc")
      errors.push({
        field,
        message: `${field} (on unless false) needs machine type q35: OVMF has Secure Boot only there`,
      });
  }
  if (features?.acpi?.enabled === false)
    errors.push({
      field: `${FEATURES}.acpi.enabled`,
      message: `${FEATURES}.acpi.enabled cannot be false: on pc NICs hot-plug through ACPI, and deleting a VMI presses the guest's ACPI power button`,
    });
  if (features?.apic?.enabled === false)
    errors.push({
      field: `${FEATURES}.apic.enabled`,
      message: `${FEATURES}.apic.enabled cannot be false: headroom's guests on q35 and pc all have an APIC`,
    });
  return errors;
}

const CLOCK = "spec.domain.clock";

/** One of utc and timezone, as KubeVirt takes it; a timezone the host's time zone data has. */
function checkClock(vmi: VmiInput): FieldError[] {
  const clock = vmi.spec.domain.clock;
  if (!clock) return [];
  if (clock.utc && clock.timezone !== undefined)
    return [
      { field: CLOCK, message: `${CLOCK} sets both utc and timezone; the guest's clock keeps one` },
    ];
  const zone = clock.timezone;
  if (zone === undefined || isTimeZone(zone)) return [];
  const field = `${CLOCK}.timezone`;
  return [
    {
      field,
      message: `${field} ${show(zone)} is not a time zone; use an IANA name such as Europe/Paris`,
    },
  ];
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function checkCpu(vmi: VmiInput): FieldError[] {
  const cpu = vmi.spec.domain.cpu;
  if (!cpu) return [];
  const errors = uniqueNames("spec.domain.cpu.features", cpu.features ?? []);
  const vcpus = (cpu.cores ?? 1) * (cpu.sockets ?? 1) * (cpu.threads ?? 1);
  if (vcpus > MAX_VCPUS)
    errors.push({
      field: "spec.domain.cpu",
      message: `spec.domain.cpu gives ${vcpus} vCPUs (cores × sockets × threads); at most ${MAX_VCPUS} are allowed`,
    });
  return errors;
}

function checkMemory(vmi: VmiInput): FieldError[] {
  const { memory, resources } = vmi.spec.domain;
  const sizes: { field: string; value: unknown }[] = [];
  if (memory?.guest !== undefined) {
    sizes.push({ field: "spec.domain.memory.guest", value: memory.guest });
  }
  if (resources?.requests?.memory !== undefined) {
    sizes.push({ field: `${REQUESTS}.memory`, value: resources.requests.memory });
  }
  const errors: FieldError[] = [];
  const bytes = new Map<string, bigint>();
  for (const { field, value } of sizes) {
    const parsed = toBytes(value);
    if (!parsed.ok) {
      errors.push({
        field,
        message: `${field} must be a size such as 128Mi or 1Gi: ${parsed.reason}`,
      });
    } else if (parsed.bytes < MIN_MEMORY_BYTES || parsed.bytes > MAX_MEMORY_BYTES) {
      errors.push({
        field,
        message: `${field} must be between 16Mi and 64Gi (got ${show(value)})`,
      });
    } else {
      bytes.set(field, parsed.bytes);
    }
  }

  const limit = resources?.limits?.memory;
  if (limit !== undefined) {
    const field = `${LIMITS}.memory`;
    const parsed = toBytes(limit);
    if (!parsed.ok) {
      errors.push({
        field,
        message: `${field} must be a size such as 128Mi or 1Gi: ${parsed.reason}`,
      });
    } else if (sizes.length === 0) {
      // KubeVirt sizes the guest from the limit when nothing else is given.
      if (parsed.bytes < MIN_MEMORY_BYTES || parsed.bytes > MAX_MEMORY_BYTES) {
        errors.push({
          field,
          message: `${field} must be between 16Mi and 64Gi (got ${show(limit)})`,
        });
      }
    } else {
      for (const [sizeField, size] of bytes) {
        if (size > parsed.bytes) {
          errors.push({
            field: sizeField,
            message: `${sizeField} is larger than ${field} (${show(limit)})`,
          });
        }
      }
    }
  }
  return errors;
}

function checkInterfaceRequest(vmi: VmiInput): FieldError[] {
  const { requests, limits } = vmi.spec.domain.resources ?? {};
  const errors: FieldError[] = [];
  if (requests && INTERFACE_RESOURCE in requests) {
    const value = requests[INTERFACE_RESOURCE];
    if (interfaceRequestValue(value) === null) {
      const field = child(REQUESTS, INTERFACE_RESOURCE);
      errors.push({
        field,
        message: `${field}: ${INTERFACE_REQUEST_MESSAGE} (got ${show(value)})`,
      });
    }
  }
  if (limits && INTERFACE_RESOURCE in limits) {
    const field = child(LIMITS, INTERFACE_RESOURCE);
    errors.push({
      field,
      message: `${field} is not accepted: ${INTERFACE_RESOURCE} may be given only under ${REQUESTS}`,
    });
  }
  return errors;
}

function checkInterfaces(vmi: VmiInput): FieldError[] {
  const interfaces = vmi.spec.domain.devices?.interfaces ?? [];
  const errors = uniqueNames(INTERFACES, interfaces);
  const macs = new Map<string, number>();
  interfaces.forEach((iface, index) => {
    const at = `${INTERFACES}[${index}]`;
    const bindings = bindingsOf(iface);
    if (bindings.length === 0) {
      errors.push({ field: at, message: `${at} needs a binding: masquerade or bridge` });
    } else if (bindings.length > 1) {
      errors.push({
        field: at,
        message: `${at} has ${bindings.length} bindings (${bindings.join(", ")}); give exactly one`,
      });
    }
    if (iface.macAddress !== undefined) {
      const field = `${at}.macAddress`;
      const mac = iface.macAddress.toLowerCase();
      const firstOctet = Number.parseInt(mac.slice(0, 2), 16);
      if (mac === "00:00:00:00:00:00") {
        errors.push({ field, message: `${field} must not be all zeros` });
      } else if (firstOctet % 2 === 1) {
        errors.push({
          field,
          message: `${field} ${show(iface.macAddress)} is a multicast address; an interface needs a unicast one`,
        });
      }
      const earlier = macs.get(mac);
      if (earlier !== undefined) {
        errors.push({
          field,
          message: `${field} ${show(iface.macAddress)} is already used by ${INTERFACES}[${earlier}]`,
        });
      } else {
        macs.set(mac, index);
      }
    }
  });
  return errors;
}

/**
 * Ports are forwarded from the host to a masquerade interface's guest, over
 * TCP, each port once; a bridge interface's guest is reached on its network.
 */
function checkPorts(vmi: VmiInput): FieldError[] {
  const errors: FieldError[] = [];
  (vmi.spec.domain.devices?.interfaces ?? []).forEach((iface, index) => {
    const at = `${INTERFACES}[${index}].ports`;
    if (!iface.ports || iface.ports.length === 0) return;
    if (!iface.masquerade) {
      errors.push({
        field: at,
        message: `${at}: ports are forwarded only to masquerade interfaces; a bridge interface's guest is reached on its own network`,
      });
      return;
    }
    const seen = new Map<number | string, number>();
    const once = (key: number | string, field: string, what: string, i: number) => {
      const earlier = seen.get(key);
      if (earlier === undefined) seen.set(key, i);
      else errors.push({ field, message: `${field} ${what} is already used by ${at}[${earlier}]` });
    };
    iface.ports.forEach((port, i) => {
      once(port.port, `${at}[${i}].port`, String(port.port), i);
      if (port.name !== undefined)
        once(`name:${port.name}`, `${at}[${i}].name`, show(port.name), i);
      if (port.protocol === "UDP") {
        errors.push({
          field: `${at}[${i}].protocol`,
          message: `${at}[${i}].protocol: headroom forwards TCP ports only; UDP is not forwarded yet`,
        });
      }
    });
  });
  return errors;
}

function checkNetworks(vmi: VmiInput): FieldError[] {
  const networks = vmi.spec.networks ?? [];
  const errors = uniqueNames(NETWORKS, networks);
  let podNetwork: number | null = null;
  networks.forEach((network, index) => {
    const at = `${NETWORKS}[${index}]`;
    const sources = sourcesOf(network);
    if (sources.length === 0) {
      errors.push({ field: at, message: `${at} needs a source: pod or multus` });
    } else if (sources.length > 1) {
      errors.push({
        field: at,
        message: `${at} has ${sources.length} sources (${sources.join(", ")}); give exactly one`,
      });
    }
    if (network.multus?.default === true) {
      const field = `${at}.multus.default`;
      const other = networks.findIndex((n, i) => i !== index && (n.pod || n.multus?.default));
      if (other !== -1)
        errors.push({
          field,
          message: `${field}: a default multus network takes the pod network's place, and ${NETWORKS}[${other}] is ${networks[other]?.pod ? "the pod network" : "another default"}`,
        });
    }
    if (network.pod) {
      if (podNetwork === null) {
        podNetwork = index;
      } else {
        errors.push({
          field: `${at}.pod`,
          message: `${at}.pod: only one pod network is allowed, and ${NETWORKS}[${podNetwork}] is one`,
        });
      }
    }
  });
  return errors;
}

/**
 * Every interface has the network of the same name and the other way round;
 * masquerade goes with the pod network, bridge with a multus network.
 */
function checkInterfaceNetworkPairs(vmi: VmiInput): FieldError[] {
  const interfaces = vmi.spec.domain.devices?.interfaces ?? [];
  const networks = vmi.spec.networks ?? [];
  const networksByName = new Map(networks.map((network) => [network.name, network]));
  const interfaceNames = new Set(interfaces.map((iface) => iface.name));
  const errors: FieldError[] = [];

  interfaces.forEach((iface, index) => {
    const at = `${INTERFACES}[${index}]`;
    const network = networksByName.get(iface.name);
    if (!network) {
      errors.push({
        field: `${at}.name`,
        message: `${at}.name: no network in ${NETWORKS} is named ${show(iface.name)}`,
      });
      return;
    }
    if (iface.masquerade && network.multus) {
      errors.push({
        field: `${at}.masquerade`,
        message: `${at}.masquerade works only with a pod network, and network ${show(network.name)} is multus (use bridge)`,
      });
    }
    if (iface.bridge && network.pod) {
      errors.push({
        field: `${at}.bridge`,
        message: `${at}.bridge: headroom bridges only to multus networks, and network ${show(network.name)} is the pod network (use masquerade)`,
      });
    }
  });

  networks.forEach((network, index) => {
    if (!interfaceNames.has(network.name)) {
      const field = `${NETWORKS}[${index}].name`;
      errors.push({
        field,
        message: `${field}: no interface in ${INTERFACES} is named ${show(network.name)}`,
      });
    }
  });
  return errors;
}

function checkDisksAndVolumes(vmi: VmiInput): FieldError[] {
  const disks = vmi.spec.domain.devices?.disks ?? [];
  const volumes = vmi.spec.volumes ?? [];
  const errors = [...uniqueNames(DISKS, disks), ...uniqueNames(VOLUMES, volumes)];
  const volumeNames = new Set(volumes.map((volume) => volume.name));

  disks.forEach((disk, index) => {
    errors.push(...checkCdrom(disk, `${DISKS}[${index}]`));
    if (!volumeNames.has(disk.name)) {
      const field = `${DISKS}[${index}].name`;
      errors.push({
        field,
        message: `${field}: no volume in ${VOLUMES} is named ${show(disk.name)}`,
      });
    }
  });

  volumes.forEach((volume, index) => {
    const at = `${VOLUMES}[${index}]`;
    const sources = volumeSourcesOf(volume);
    if (sources.length === 0) {
      errors.push({
        field: at,
        message: `${at} needs a source: containerDisk, emptyDisk, hostDisk, persistentVolumeClaim, dataVolume, ephemeral, cloudInitNoCloud or cloudInitConfigDrive`,
      });
    } else if (sources.length > 1) {
      errors.push({
        field: at,
        message: `${at} has ${sources.length} sources (${sources.join(", ")}); give exactly one`,
      });
    }
    if (volume.emptyDisk)
      errors.push(...checkDiskSize(`${at}.emptyDisk.capacity`, volume.emptyDisk.capacity));
    const inImage = volume.containerDisk?.path;
    if (inImage?.split("/").some((part) => part === "." || part === ".."))
      errors.push({
        field: `${at}.containerDisk.path`,
        message: `${at}.containerDisk.path must not have '.' or '..' parts (got ${show(inImage)})`,
      });
    const hostDisk = volume.hostDisk;
    if (hostDisk) {
      const field = `${at}.hostDisk.capacity`;
      if (hostDisk.capacity !== undefined) errors.push(...checkDiskSize(field, hostDisk.capacity));
      else if (hostDisk.type === "DiskOrCreate")
        errors.push({
          field,
          message: `${field} is needed: DiskOrCreate makes the file that size`,
        });
      if (hostDisk.path.split("/").some((part) => part === "." || part === ".."))
        errors.push({
          field: `${at}.hostDisk.path`,
          message: `${at}.hostDisk.path must not have '.' or '..' parts (got ${show(hostDisk.path)})`,
        });
    }
  });
  return errors;
}

/** Disks and interfaces boot in a place each, as libvirt needs. */
function checkBootOrders(vmi: VmiInput): FieldError[] {
  const places = (list: string, devices: readonly { bootOrder?: number }[] = []) =>
    devices.map((device, i) => ({ at: `${list}[${i}]`, order: device.bootOrder }));
  const errors: FieldError[] = [];
  const first = new Map<number, string>();
  for (const { at, order } of [
    ...places(DISKS, vmi.spec.domain.devices?.disks),
    ...places(INTERFACES, vmi.spec.domain.devices?.interfaces),
  ]) {
    if (order === undefined) continue;
    const earlier = first.get(order);
    const field = `${at}.bootOrder`;
    if (earlier !== undefined)
      errors.push({
        field,
        message: `${field} ${order} is already ${earlier}'s; each device boots in its own place`,
      });
    else first.set(order, at);
  }
  return errors;
}

/**
 * Native IO bypasses the host's cache (O_DIRECT); custom block sizes are
 * powers of 2, logical no more than physical, and 512 logical on SATA (all
 * QEMU's emulated controller takes), as KubeVirt checks them.
 */
function checkDiskDrivers(vmi: VmiInput): FieldError[] {
  const errors: FieldError[] = [];
  (vmi.spec.domain.devices?.disks ?? []).forEach((disk, index) => {
    const at = `${DISKS}[${index}]`;
    if (disk.io === "native" && disk.cache !== undefined && disk.cache !== "none")
      errors.push({
        field: `${at}.io`,
        message: `${at}.io native reads and writes past the host's cache, so cache must be none (got ${show(disk.cache)})`,
      });
    const blockSize = disk.blockSize;
    if (!blockSize?.custom) return;
    if (blockSize.matchVolume && blockSize.matchVolume.enabled !== false)
      errors.push({
        field: `${at}.blockSize`,
        message: `${at}.blockSize gives both custom sizes and matchVolume; give one`,
      });
    const { logical, physical } = blockSize.custom;
    for (const [name, size] of [
      ["logical", logical],
      ["physical", physical],
    ] as const)
      if ((size & (size - 1)) !== 0)
        errors.push({
          field: `${at}.blockSize.custom.${name}`,
          message: `${at}.blockSize.custom.${name} must be a power of 2 (got ${size})`,
        });
    const field = `${at}.blockSize.custom.logical`;
    if (logical > physical)
      errors.push({
        field,
        message: `${field} ${logical} must be no more than the physical size, ${physical}`,
      });
    const bus = disk.cdrom ? (disk.cdrom.bus ?? "sata") : (disk.disk?.bus ?? "virtio");
    if (bus === "sata" && logical !== 512)
      errors.push({
        field,
        message: `${field} must be 512 on a SATA drive (got ${logical}): QEMU's SATA controller takes no other`,
      });
  });
  return errors;
}

/** ACPI indexes name NICs, so each is one interface's; absent is how KubeVirt asks for an unplug. */
function checkInterfaceDevices(vmi: VmiInput): FieldError[] {
  const errors: FieldError[] = [];
  const indexes = new Map<number, number>();
  (vmi.spec.domain.devices?.interfaces ?? []).forEach((iface, index) => {
    const at = `${INTERFACES}[${index}]`;
    if (iface.state === "absent")
      errors.push({
        field: `${at}.state`,
        message: `${at}.state absent is not taken: to unplug an interface, leave it out of the VMI and apply it again (or run headroom removeinterface)`,
      });
    if (iface.acpiIndex === undefined) return;
    const earlier = indexes.get(iface.acpiIndex);
    if (earlier !== undefined)
      errors.push({
        field: `${at}.acpiIndex`,
        message: `${at}.acpiIndex ${iface.acpiIndex} is already ${INTERFACES}[${earlier}]'s; each interface needs its own`,
      });
    else indexes.set(iface.acpiIndex, index);
  });
  return errors;
}

/** Devices headroom does not give, asked for by a switch that is off by default. */
function checkDeviceSwitches(vmi: VmiInput): FieldError[] {
  const devices = vmi.spec.domain.devices;
  const refused: [string, boolean | undefined, string][] = [
    [
      "autoattachVSOCK",
      devices?.autoattachVSOCK,
      "headroom gives guests no VSOCK device: nothing on its hosts would reach the guest through it (KubeVirt's virtctl vsock)",
    ],
    [
      "useVirtioTransitional",
      devices?.useVirtioTransitional,
      "it is for guests with no virtio 1.0 drivers (older than Linux 4.0); the room headroom keeps for hot-plugged NICs is PCIe ports, where such a guest could not drive them",
    ],
  ];
  const errors = refused
    .filter(([, value]) => value === true)
    .map(([name, , why]) => {
      const field = `spec.domain.devices.${name}`;
      return { field, message: `${field} true is refused: ${why}` };
    });
  if (vmi.spec.domain.rebootPolicy === "Terminate")
    errors.push({
      field: "spec.domain.rebootPolicy",
      message:
        "spec.domain.rebootPolicy Terminate is refused: headroom keeps a rebooting guest running; delete the VMI to end it",
    });
  return errors;
}

/** A disk entry is a disk or a CD-ROM drive, and a CD-ROM drive is read-only. */
function checkCdrom(disk: DiskInput, at: string): FieldError[] {
  if (!disk.cdrom) return [];
  if (disk.disk)
    return [
      {
        field: at,
        message: `${at} gives both disk and cdrom; a disk entry is one or the other`,
      },
    ];
  if (disk.cdrom.readonly === false)
    return [
      {
        field: `${at}.cdrom.readonly`,
        message: `${at}.cdrom.readonly cannot be false: a CD-ROM drive is read-only`,
      },
    ];
  return [];
}

/**
 * Only a host disk, a raw file, may be shared: two guests writing one qcow2
 * file would corrupt its metadata. Shared, it is read past the host's cache.
 */
function checkShareable(vmi: VmiInput): FieldError[] {
  const errors: FieldError[] = [];
  const volumes = vmi.spec.volumes ?? [];
  (vmi.spec.domain.devices?.disks ?? []).forEach((disk, index) => {
    if (disk.shareable !== true) return;
    const at = `${DISKS}[${index}]`;
    const volume = volumes.find((v) => v.name === disk.name);
    if (volume && !volume.hostDisk)
      errors.push({
        field: `${at}.shareable`,
        message: `${at}.shareable: only a hostDisk volume can be shared; a ${volumeSourcesOf(volume)[0] ?? "disk"} is qcow2, which two guests cannot write safely`,
      });
    if (disk.cache !== undefined && disk.cache !== "none")
      errors.push({
        field: `${at}.cache`,
        message: `${at}.cache: a shareable disk is read and written past the host's cache (none), not ${show(disk.cache)}`,
      });
  });
  return errors;
}

/** IO threads serve virtio disks only, as in KubeVirt. */
function checkIoThreads(vmi: VmiInput): FieldError[] {
  const errors: FieldError[] = [];
  (vmi.spec.domain.devices?.disks ?? []).forEach((disk, index) => {
    const bus = disk.cdrom ? undefined : (disk.disk?.bus ?? "virtio");
    if (disk.dedicatedIOThread !== true || bus === "virtio") return;
    const what = bus === undefined ? "a CD-ROM drive" : `on ${bus}`;
    const field = `${DISKS}[${index}].dedicatedIOThread`;
    errors.push({
      field,
      message: `${field}: only a virtio disk can have an IO thread of its own (this one is ${what})`,
    });
  });
  return errors;
}

/** A size headroom gives a disk: 1Mi to 1Ti. */
function checkDiskSize(field: string, value: QuantityValue): FieldError[] {
  const parsed = toBytes(value);
  if (!parsed.ok)
    return [{ field, message: `${field} must be a size such as 1Gi: ${parsed.reason}` }];
  if (parsed.bytes < MIN_EMPTY_DISK_BYTES || parsed.bytes > MAX_EMPTY_DISK_BYTES)
    return [{ field, message: `${field} must be between 1Mi and 1Ti (got ${show(value)})` }];
  return [];
}

function uniqueNames(list: string, items: readonly { name: string }[]): FieldError[] {
  const errors: FieldError[] = [];
  const first = new Map<string, number>();
  items.forEach((item, index) => {
    const earlier = first.get(item.name);
    if (earlier === undefined) {
      first.set(item.name, index);
      return;
    }
    const field = `${list}[${index}].name`;
    errors.push({
      field,
      message: `${field} ${show(item.name)} is already used by ${list}[${earlier}]`,
    });
  });
  return errors;
}

function bindingsOf(iface: InterfaceInput): string[] {
  return (["masquerade", "bridge"] as const).filter((binding) => iface[binding] !== undefined);
}

function sourcesOf(network: NetworkInput): string[] {
  return (["pod", "multus"] as const).filter((source) => network[source] !== undefined);
}

const VOLUME_SOURCES = [
  "containerDisk",
  "emptyDisk",
  "hostDisk",
  "persistentVolumeClaim",
  "dataVolume",
  "ephemeral",
  "cloudInitNoCloud",
  "cloudInitConfigDrive",
] as const;

function volumeSourcesOf(volume: VolumeInput): string[] {
  return VOLUME_SOURCES.filter((source) => volume[source] !== undefined);
}

/** At most one cloud-init volume (as KubeVirt); user data from one field, network data from at most one. */
function checkCloudInit(vmi: VmiInput): FieldError[] {
  const errors: FieldError[] = [];
  let first: number | null = null;
  (vmi.spec.volumes ?? []).forEach((volume, index) => {
    const kind = volume.cloudInitNoCloud ? "cloudInitNoCloud" : "cloudInitConfigDrive";
    const data = volume[kind];
    if (!data) return;
    const at = `${VOLUMES}[${index}].${kind}`;
    if (first !== null) {
      errors.push({
        field: at,
        message: `${at}: a VMI takes one cloud-init volume, and ${VOLUMES}[${first}] is one`,
      });
    }
    first ??= index;
    const users = (["userData", "userDataBase64"] as const).filter(
      (key) => data[key] !== undefined,
    );
    if (users.length !== 1) {
      errors.push({
        field: at,
        message: `${at} needs its user data in exactly one of userData or userDataBase64 (got ${users.length})`,
      });
    }
    if (data.networkData !== undefined && data.networkDataBase64 !== undefined) {
      errors.push({
        field: at,
        message: `${at} takes its network data from one of networkData or networkDataBase64, not both`,
      });
    }
    for (const key of ["userDataBase64", "networkDataBase64"] as const) {
      const value = data[key];
      if (value !== undefined && decodeBase64(value) === null) {
        errors.push({ field: `${at}.${key}`, message: `${at}.${key} is not valid base64` });
      }
    }
  });
  return errors;
}

/** The bytes of standard base64 (whitespace allowed, as in YAML block text), or null. */
export function decodeBase64(text: string): Buffer | null {
  const compact = text.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return null;
  return Buffer.from(compact, "base64");
}
