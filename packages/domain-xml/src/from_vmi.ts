/** A validated KubeVirt VMI plus what the host resolved for it → DomainSpec. */
import { type GuestResources, guestResources, type Vmi } from "@headroom/vmi";
import {
  type ClockSpec,
  checkDomainSpec,
  DEFAULT_NIC_MODEL,
  type DiskFormat,
  type DiskSpec,
  type DomainSpec,
  DomainSpecError,
  type NicModel,
  type NicSpec,
  type TimerSpec,
  type VirtType,
} from "./spec.ts";

/** What the host decided or prepared for a VMI: nothing here comes from the user. */
export interface HostPlacement {
  uuid: string;
  virtType: VirtType;
  /** libvirt domain name; `<namespace>_<name>` when absent. */
  domainName?: string;
  /** Host image file of each volume a disk uses, by volume name. */
  volumes: Record<string, { path: string; format: DiskFormat; readonly?: boolean }>;
  /** Host files of `firmware.kernelBoot.container`, resolved from its image. */
  kernel?: { kernelPath: string; initrdPath?: string };
  /** Host bridge of each multus network, by `networkName`. */
  bridges?: Record<string, string>;
  serialConsoleLogPath?: string;
  /** Where a UEFI guest's EFI variables are kept (a file of the VMI's own). */
  nvramPath?: string;
}

/**
 * VMI `model: virtio` on a modern machine: the virtio 1.0 device, as KubeVirt
 * does on q35; the emulated models by their libvirt names.
 */
const NIC_MODEL: Record<string, NicModel> = {
  virtio: DEFAULT_NIC_MODEL,
  e1000: "e1000",
  e1000e: "e1000e",
  rtl8139: "rtl8139",
};

/**
 * KubeVirt's IO threads: the virtio disks share one (shared) or a pool of up
 * to two per vCPU taken in turn (auto); a disk with dedicatedIOThread gets
 * one of its own after them. A dedicated disk alone means shared. Returns the
 * domain's thread count and each disk's thread, by index (none: no thread).
 */
function ioThreadsOf(vmi: Vmi, vcpus: number): { count: number; threads: (number | undefined)[] } {
  const disks = vmi.spec.domain.devices.disks;
  const virtio = (disk: (typeof disks)[number]) => disk.disk?.bus === "virtio";
  const dedicated = disks.filter((disk) => virtio(disk) && disk.dedicatedIOThread).length;
  const policy = vmi.spec.domain.ioThreadsPolicy ?? (dedicated > 0 ? "shared" : undefined);
  if (policy === undefined) return { count: 0, threads: disks.map(() => undefined) };
  const others = disks.filter((disk) => virtio(disk) && !disk.dedicatedIOThread).length;
  const pool = others === 0 ? 0 : policy === "shared" ? 1 : Math.min(2 * vcpus, others);
  let nextPooled = 0;
  let nextDedicated = pool;
  const threads = disks.map((disk) => {
    if (!virtio(disk)) return undefined;
    if (disk.dedicatedIOThread) return ++nextDedicated;
    nextPooled = (nextPooled % pool) + 1;
    return nextPooled;
  });
  return { count: pool + dedicated, threads };
}

function disksOf(vmi: Vmi, host: HostPlacement, ioThreads: (number | undefined)[]): DiskSpec[] {
  return vmi.spec.domain.devices.disks.map((disk, i) => {
    const field = `spec.domain.devices.disks[${i}]`;
    if (!vmi.spec.volumes.some((v) => v.name === disk.name))
      throw new DomainSpecError(`${field}.name`, `names no volume ('${disk.name}')`);
    const file = Object.hasOwn(host.volumes, disk.name) ? host.volumes[disk.name] : undefined;
    if (!file)
      throw new DomainSpecError(`${field}.name`, `volume '${disk.name}' has no host image file`);
    const device = disk.cdrom ?? disk.disk;
    if (!device) throw new DomainSpecError(`${field}.disk`, "is needed (or cdrom)");
    return {
      name: disk.name,
      bus: device.bus,
      sourceFile: file.path,
      format: file.format,
      ...(file.readonly || device.readonly ? { readonly: true } : {}),
      ...(disk.cdrom ? { cdrom: { trayOpen: disk.cdrom.tray === "open" } } : {}),
      ...(disk.bootOrder !== undefined ? { bootOrder: disk.bootOrder } : {}),
      ...(disk.serial !== undefined ? { serial: disk.serial } : {}),
      ...(disk.cache !== undefined || disk.shareable ? { cache: disk.cache ?? "none" } : {}),
      ...(disk.errorPolicy !== undefined ? { errorPolicy: disk.errorPolicy } : {}),
      ...(disk.io !== undefined ? { io: disk.io } : {}),
      ...(disk.blockSize ? { blockSize: { ...disk.blockSize.custom } } : {}),
      ...(disk.shareable ? { shareable: true } : {}),
      ...(ioThreads[i] !== undefined ? { ioThread: ioThreads[i] } : {}),
    };
  });
}

/** `queues`: each virtio NIC's queue pairs (networkInterfaceMultiqueue), none when 1. */
function interfacesOf(vmi: Vmi, host: HostPlacement, queues: number): NicSpec[] {
  return vmi.spec.domain.devices.interfaces.map((iface, i) => {
    const field = `spec.domain.devices.interfaces[${i}]`;
    const network = vmi.spec.networks.find((n) => n.name === iface.name);
    if (!network) throw new DomainSpecError(`${field}.name`, `names no network ('${iface.name}')`);
    const model = NIC_MODEL[iface.model];
    if (!model) throw new DomainSpecError(`${field}.model`, `'${iface.model}' is not supported`);
    const nic: NicSpec = { name: iface.name, kind: "pod", model };
    if (network.multus) {
      const name = network.multus.networkName;
      const bridge =
        host.bridges && Object.hasOwn(host.bridges, name) ? host.bridges[name] : undefined;
      if (bridge === undefined)
        throw new DomainSpecError(`${field}.name`, `multus network '${name}' has no host bridge`);
      nic.kind = "bridge";
      nic.bridge = bridge;
    }
    if (iface.macAddress !== undefined) nic.mac = iface.macAddress.toLowerCase();
    if (queues > 1 && model.startsWith("virtio")) nic.queues = queues;
    if (iface.bootOrder !== undefined) nic.bootOrder = iface.bootOrder;
    if (iface.acpiIndex !== undefined) nic.acpiIndex = iface.acpiIndex;
    if (iface.state === "down") nic.linkDown = true;
    return nic;
  });
}

/** KubeVirt's clock as libvirt's: the offset, and each timer the VMI names. */
function clockOf(clock: NonNullable<Vmi["spec"]["domain"]["clock"]>): ClockSpec {
  const timers: TimerSpec[] = [];
  for (const name of ["hpet", "pit", "rtc"] as const) {
    const timer = clock.timer?.[name];
    if (!timer) continue;
    timers.push({
      name,
      ...(timer.present !== undefined ? { present: timer.present } : {}),
      ...(timer.tickPolicy !== undefined ? { tickPolicy: timer.tickPolicy } : {}),
      ...(name === "rtc" && clock.timer?.rtc?.track !== undefined
        ? { track: clock.timer.rtc.track }
        : {}),
    });
  }
  return clock.timezone !== undefined
    ? { timezone: clock.timezone, timers }
    : { utcOffsetSeconds: clock.utc?.offsetSeconds ?? 0, timers };
}

/** The firmware the VMI asks for; its firmware.uuid is the host's `uuid` already. */
function firmwareOf(
  vmi: Vmi,
  guest: GuestResources,
  host: HostPlacement,
): Pick<DomainSpec, "efi" | "biosSerial" | "smm"> {
  const smm = guest.smm ? { smm: true } : {};
  if (guest.bootloader === "efi") {
    if (host.nvramPath === undefined)
      throw new DomainSpecError(
        "spec.domain.firmware.bootloader.efi",
        "has no NVRAM file on the host",
      );
    return { efi: { secureBoot: guest.secureBoot, nvramPath: host.nvramPath }, ...smm };
  }
  const bootloader = vmi.spec.domain.firmware?.bootloader;
  const useSerial = bootloader !== undefined && "bios" in bootloader && bootloader.bios.useSerial;
  return { ...(useSerial ? { biosSerial: true } : {}), ...smm };
}

/**
 * The DomainSpec for a VMI that @headroom/vmi validated, placed with `host`. Interfaces keep
 * their VMI names (aliases `ua-net-<name>`); pod networks join the host's pod network, multus
 * networks the host bridge `host.bridges[networkName]`. Throws DomainSpecError naming the field.
 */
export function domainSpecFromVmi(vmi: Vmi, host: HostPlacement): DomainSpec {
  const { name, namespace } = vmi.metadata;
  const { domain } = vmi.spec;
  const guest = guestResources(vmi);
  if (!guest.ok) throw new DomainSpecError(guest.field, guest.reason);
  const ioThreads = ioThreadsOf(vmi, guest.resources.vcpus);
  const spec: DomainSpec = {
    name: host.domainName ?? `${namespace}_${name}`,
    uuid: host.uuid,
    title: `${namespace}/${name}`,
    description: `VirtualMachineInstance ${namespace}/${name}`,
    virtType: host.virtType,
    machine: guest.resources.machineType,
    vcpus: guest.resources.vcpus,
    memoryKiB: guest.resources.memoryKiB,
    disks: disksOf(vmi, host, ioThreads.threads),
    ...(ioThreads.count > 0 ? { ioThreads: ioThreads.count } : {}),
    interfaces: interfacesOf(
      vmi,
      host,
      domain.devices.networkInterfaceMultiqueue ? guest.resources.vcpus : 1,
    ),
    rng: domain.devices.rng !== undefined,
    ...(domain.firmware?.serial !== undefined ? { smbiosSerial: domain.firmware.serial } : {}),
    ...(domain.chassis ? { chassis: domain.chassis } : {}),
    ...firmwareOf(vmi, guest.resources, host),
    ...(domain.cpu?.model !== undefined ? { cpuModel: domain.cpu.model } : {}),
    ...(domain.cpu?.features ? { cpuFeatures: domain.cpu.features } : {}),
    ...(domain.clock ? { clock: clockOf(domain.clock) } : {}),
    ...(domain.devices.tpm ? { tpm: true } : {}),
    ...(domain.devices.autoattachMemBalloon === false ? { memBalloon: false } : {}),
    ...(domain.devices.blockMultiQueue ? { diskQueues: guest.resources.vcpus } : {}),
    ...(domain.devices.video ? { video: domain.devices.video.type } : {}),
    ...(domain.devices.watchdog ? { watchdog: domain.devices.watchdog.i6300esb.action } : {}),
  };
  const kernelBoot = domain.firmware?.kernelBoot;
  if (kernelBoot) {
    const field = "spec.domain.firmware.kernelBoot.container";
    if (!host.kernel) throw new DomainSpecError(field, "has no kernel resolved on the host");
    if (kernelBoot.container.initrdPath !== undefined && host.kernel.initrdPath === undefined)
      throw new DomainSpecError(`${field}.initrdPath`, "has no initrd resolved on the host");
    spec.kernelBoot = {
      kernelPath: host.kernel.kernelPath,
      ...(host.kernel.initrdPath !== undefined ? { initrdPath: host.kernel.initrdPath } : {}),
      ...(kernelBoot.kernelArgs !== undefined ? { cmdline: kernelBoot.kernelArgs } : {}),
    };
  }
  if (host.serialConsoleLogPath !== undefined)
    spec.serialConsoleLogPath = host.serialConsoleLogPath;
  checkDomainSpec(spec);
  return spec;
}
