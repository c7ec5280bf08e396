/**
 * Builds the normalized VMI from a document that passed the schema and the
 * rules: a fresh object (nothing shared with the input), defaults applied.
 */

import { INTERFACE_RESOURCE } from "./capacity.ts";
import type { BootloaderInput, DomainInput, VmiInput } from "./input.ts";
import { DEFAULT_GUEST_MEMORY, DEFAULT_TERMINATION_GRACE_SECONDS } from "./rules.ts";
import type {
  Bootloader,
  Clock,
  Cpu,
  DomainSpec,
  Features,
  MachineType,
  QuantityValue,
  Resources,
  Vmi,
} from "./types.ts";

/** hotpluggable is warned about, not kept. */
function claimOf(claim: { claimName: string; readOnly?: boolean }) {
  return {
    claimName: claim.claimName,
    ...(claim.readOnly !== undefined && { readOnly: claim.readOnly }),
  };
}

export function normalize(input: VmiInput): Vmi {
  const { metadata } = input;
  const spec = withKubevirtDefaults(input.spec);
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace ?? "default",
      ...(metadata.labels && { labels: { ...metadata.labels } }),
      ...(metadata.annotations && { annotations: { ...metadata.annotations } }),
    },
    spec: {
      domain: normalizeDomain(spec.domain),
      networks: (spec.networks ?? []).map((network) => ({
        name: network.name,
        ...(network.pod && { pod: {} }),
        ...(network.multus && {
          multus: {
            networkName: network.multus.networkName,
            ...(network.multus.default === true && { default: true as const }),
          },
        }),
      })),
      volumes: (spec.volumes ?? []).map((volume) => ({
        name: volume.name,
        ...(volume.containerDisk && {
          containerDisk: {
            image: volume.containerDisk.image,
            ...(volume.containerDisk.imagePullPolicy && {
              imagePullPolicy: volume.containerDisk.imagePullPolicy,
            }),
            ...(volume.containerDisk.path !== undefined && { path: volume.containerDisk.path }),
          },
        }),
        ...(volume.emptyDisk && { emptyDisk: { capacity: volume.emptyDisk.capacity } }),
        ...(volume.persistentVolumeClaim && {
          persistentVolumeClaim: claimOf(volume.persistentVolumeClaim),
        }),
        ...(volume.ephemeral && {
          ephemeral: { persistentVolumeClaim: claimOf(volume.ephemeral.persistentVolumeClaim) },
        }),
        ...(volume.dataVolume && { dataVolume: { name: volume.dataVolume.name } }),
        ...(volume.hostDisk && {
          hostDisk: {
            path: volume.hostDisk.path,
            type: volume.hostDisk.type,
            ...(volume.hostDisk.capacity !== undefined && { capacity: volume.hostDisk.capacity }),
          },
        }),
        ...(volume.cloudInitNoCloud && { cloudInitNoCloud: { ...volume.cloudInitNoCloud } }),
        ...(volume.cloudInitConfigDrive && {
          cloudInitConfigDrive: { ...volume.cloudInitConfigDrive },
        }),
      })),
      terminationGracePeriodSeconds:
        spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS,
      ...(spec.hostname !== undefined && { hostname: spec.hostname }),
      ...(spec.nodeSelector && { nodeSelector: { ...spec.nodeSelector } }),
      // pod (anti-)affinity is warned about, not kept.
      ...(spec.affinity?.nodeAffinity && {
        affinity: { nodeAffinity: spec.affinity.nodeAffinity },
      }),
    },
  };
}

/** maxSockets is warned about, not kept; a feature's policy is KubeVirt's require when absent. */
function normalizeCpu({ maxSockets: _, features, ...cpu }: NonNullable<DomainInput["cpu"]>): Cpu {
  return {
    ...cpu,
    ...(features && {
      features: features.map((feature) => ({
        name: feature.name,
        policy: feature.policy ?? "require",
      })),
    }),
  };
}

function normalizeDomain(domain: DomainInput): DomainSpec {
  const { cpu, firmware, devices, resources } = domain;
  // As KubeVirt: the guest gets memory.guest, else the request, else the limit.
  const guest =
    domain.memory?.guest ??
    resources?.requests?.memory ??
    resources?.limits?.memory ??
    DEFAULT_GUEST_MEMORY;
  const kernelBoot = firmware?.kernelBoot;
  return {
    ...(cpu && { cpu: normalizeCpu(cpu) }),
    memory: { guest },
    // The rules accept only these two names.
    // An empty type is KubeVirt's default too.
    machine: { type: (domain.machine?.type || "q35") as MachineType },
    ...(firmware && {
      firmware: {
        ...(kernelBoot && {
          kernelBoot: {
            ...(kernelBoot.kernelArgs !== undefined && { kernelArgs: kernelBoot.kernelArgs }),
            container: { ...kernelBoot.container },
          },
        }),
        ...(firmware.serial !== undefined && { serial: firmware.serial }),
        ...(firmware.uuid !== undefined && { uuid: firmware.uuid }),
        ...(firmware.bootloader && { bootloader: normalizeBootloader(firmware.bootloader) }),
      },
    }),
    ...(domain.features && { features: normalizeFeatures(domain.features) }),
    ...(domain.clock && { clock: normalizeClock(domain.clock) }),
    ...(domain.ioThreadsPolicy && { ioThreadsPolicy: domain.ioThreadsPolicy }),
    ...(domain.chassis && {
      chassis: Object.fromEntries(
        Object.entries(domain.chassis).map(([field, value]) => [field, String(value)]),
      ),
    }),
    devices: {
      disks: (devices?.disks ?? []).map((disk) => ({
        name: disk.name,
        ...(disk.cdrom
          ? {
              cdrom: {
                bus: disk.cdrom.bus ?? "sata",
                readonly: true as const,
                tray: disk.cdrom.tray ?? "closed",
              },
            }
          : {
              disk: {
                bus: disk.disk?.bus ?? "virtio",
                ...(disk.disk?.readonly === true && { readonly: true as const }),
              },
            }),
        ...(disk.blockSize?.custom && {
          blockSize: {
            custom: {
              logical: disk.blockSize.custom.logical,
              physical: disk.blockSize.custom.physical,
            },
          },
        }),
        ...(disk.errorPolicy !== undefined && { errorPolicy: disk.errorPolicy }),
        ...(disk.io !== undefined && { io: disk.io }),
        ...(disk.bootOrder !== undefined && { bootOrder: disk.bootOrder }),
        ...(disk.serial !== undefined && { serial: disk.serial }),
        // Native IO needs the host's cache bypassed, as KubeVirt sets it.
        ...((disk.cache !== undefined || disk.io === "native") && { cache: disk.cache ?? "none" }),
        ...(disk.dedicatedIOThread === true && { dedicatedIOThread: true as const }),
        ...(disk.shareable === true && { shareable: true as const }),
      })),
      interfaces: (devices?.interfaces ?? []).map((iface) => ({
        name: iface.name,
        model: iface.model ?? "virtio",
        ...(iface.macAddress !== undefined && { macAddress: iface.macAddress }),
        ...(iface.masquerade && { masquerade: {} }),
        ...(iface.bridge && { bridge: {} }),
        ...(iface.ports && {
          ports: iface.ports.map((port) => ({
            ...(port.name !== undefined && { name: port.name }),
            port: port.port,
            protocol: "TCP" as const,
          })),
        }),
        ...(iface.bootOrder !== undefined && { bootOrder: iface.bootOrder }),
        ...(iface.acpiIndex !== undefined && { acpiIndex: iface.acpiIndex }),
        ...(iface.state === "down" && { state: "down" as const }),
      })),
      // KubeVirt keeps rng under devices; the seed's spec.domain.rng lands there too.
      ...((devices?.rng || domain.rng) && { rng: {} }),
      ...(devices?.tpm && devices.tpm.enabled !== false && { tpm: {} }),
      ...(devices?.autoattachMemBalloon === false && { autoattachMemBalloon: false }),
      ...(devices?.blockMultiQueue === true && { blockMultiQueue: true }),
      ...(devices?.networkInterfaceMultiqueue === true && { networkInterfaceMultiqueue: true }),
      ...(devices?.video && { video: { type: devices.video.type } }),
      ...(devices?.watchdog && {
        watchdog: {
          name: devices.watchdog.name,
          i6300esb: { action: devices.watchdog.i6300esb.action ?? "reset" },
        },
      }),
      ...(devices?.autoattachPodInterface === false && { autoattachPodInterface: false }),
    },
    ...(resources && { resources: normalizeResources(resources) }),
  };
}

/** The features headroom applies; the ones it warns about are not stored. */
function normalizeFeatures(features: NonNullable<DomainInput["features"]>): Features {
  const { acpi, apic, smm } = structuredClone(features);
  return { ...(acpi && { acpi }), ...(apic && { apic }), ...(smm && { smm }) };
}

/** The clock without the timers headroom warns about. */
function normalizeClock(clock: NonNullable<DomainInput["clock"]>): Clock {
  const { timer, ...offset } = structuredClone(clock);
  if (!timer) return offset;
  const { hpet, pit, rtc } = timer;
  const kept = { ...(hpet && { hpet }), ...(pit && { pit }), ...(rtc && { rtc }) };
  return { ...offset, ...(Object.keys(kept).length > 0 && { timer: kept }) };
}

/** The rules let one of bios and efi through; KubeVirt's efi has Secure Boot on unless told. */
function normalizeBootloader(bootloader: BootloaderInput): Bootloader {
  if (bootloader.efi) return { efi: { secureBoot: bootloader.efi.secureBoot ?? true } };
  const useSerial = bootloader.bios?.useSerial;
  return { bios: useSerial === undefined ? {} : { useSerial } };
}

function normalizeResources(resources: NonNullable<DomainInput["resources"]>): Resources {
  const { requests, limits } = resources;
  const interfaceRequest = requests?.[INTERFACE_RESOURCE];
  return {
    ...(requests && {
      requests: {
        ...(requests.memory !== undefined && { memory: requests.memory }),
        // The rules made sure it is an integer quantity.
        ...(interfaceRequest !== undefined && {
          [INTERFACE_RESOURCE]: interfaceRequest as QuantityValue,
        }),
      },
    }),
    // The rules refuse kubevirt.io/interface here, so memory is all there is.
    ...(limits && { limits: { ...(limits.memory !== undefined && { memory: limits.memory }) } }),
  };
}

/**
 * What KubeVirt adds to a VMI before it runs: the pod network's interface
 * (masquerade) when the VMI names no interface and no network, unless
 * autoattachPodInterface is false; a virtio disk for each volume no disk names.
 */
function withKubevirtDefaults(spec: VmiInput["spec"]): VmiInput["spec"] {
  const devices = spec.domain.devices ?? {};
  const interfaces = devices.interfaces ?? [];
  const networks = spec.networks ?? [];
  const podInterface =
    interfaces.length === 0 && networks.length === 0 && devices.autoattachPodInterface !== false;
  const disks = devices.disks ?? [];
  const named = new Set(disks.map((disk) => disk.name));
  const diskless = (spec.volumes ?? []).filter((volume) => !named.has(volume.name));
  return {
    ...spec,
    domain: {
      ...spec.domain,
      devices: {
        ...devices,
        interfaces: podInterface ? [{ name: "default", masquerade: {} }] : interfaces,
        disks: [...disks, ...diskless.map((volume) => ({ name: volume.name, disk: {} }))],
      },
    },
    networks: podInterface ? [{ name: "default", pod: {} }] : networks,
  };
}
