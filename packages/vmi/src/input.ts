/**
 * The shape the schema guarantees for a document that passed it: what the
 * user may write, before defaults. Internal to this package.
 */
import type {
  CdromBus,
  ChassisField,
  Clock,
  CloudInit,
  Cpu,
  CpuFeaturePolicy,
  DiskBus,
  DiskCache,
  DiskErrorPolicy,
  DiskIo,
  Empty,
  HostDisk,
  ImagePullPolicy,
  InterfaceModel,
  IoThreadsPolicy,
  KernelBoot,
  NodeAffinity,
  QuantityValue,
} from "./types.ts";

export interface VmiInput {
  apiVersion: "kubevirt.io/v1" | "kubevirt.io/v1alpha3";
  kind: "VirtualMachineInstance";
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    domain: DomainInput;
    terminationGracePeriodSeconds?: number;
    hostname?: string;
    nodeSelector?: Record<string, string>;
    affinity?: { nodeAffinity?: NodeAffinity; podAffinity?: unknown; podAntiAffinity?: unknown };
    networks?: NetworkInput[];
    volumes?: VolumeInput[];
  };
}

export interface DomainInput {
  cpu?: Omit<Cpu, "features"> & {
    features?: { name: string; policy?: CpuFeaturePolicy }[];
    maxSockets?: number;
  };
  chassis?: Partial<Record<ChassisField, string | number>>;
  ioThreadsPolicy?: IoThreadsPolicy;
  rebootPolicy?: "Reboot" | "Terminate";
  memory?: { guest?: QuantityValue };
  machine?: { type?: string };
  firmware?: {
    kernelBoot?: KernelBootInput;
    serial?: string;
    uuid?: string;
    bootloader?: BootloaderInput;
  };
  clock?: Clock;
  features?: {
    acpi?: { enabled?: boolean };
    apic?: { enabled?: boolean };
    smm?: { enabled?: boolean };
  };
  devices?: {
    tpm?: { enabled?: boolean; persistent?: boolean };
    autoattachGraphicsDevice?: boolean;
    autoattachMemBalloon?: boolean;
    autoattachVSOCK?: boolean;
    useVirtioTransitional?: boolean;
    blockMultiQueue?: boolean;
    networkInterfaceMultiqueue?: boolean;
    video?: { type: "vga" | "bochs" | "virtio" | "cirrus" };
    watchdog?: { name: string; i6300esb: { action?: "poweroff" | "reset" | "shutdown" } };
    disks?: DiskInput[];
    interfaces?: InterfaceInput[];
    rng?: Empty;
    autoattachPodInterface?: boolean;
  };
  resources?: {
    requests?: { memory?: QuantityValue; "kubevirt.io/interface"?: unknown };
    limits?: { memory?: QuantityValue; "kubevirt.io/interface"?: unknown };
  };
  /** The seed design's place for rng; KubeVirt's is devices.rng. */
  rng?: Empty;
}

export interface BootloaderInput {
  bios?: { useSerial?: boolean };
  /** `persistent` is accepted with a warning and not stored. */
  efi?: { secureBoot?: boolean; persistent?: boolean };
}

export interface KernelBootInput {
  kernelArgs?: string;
  container: KernelBoot["container"] & { imagePullPolicy?: ImagePullPolicy };
}

export interface DiskInput {
  name: string;
  disk?: { bus?: DiskBus; readonly?: boolean };
  cdrom?: { bus?: CdromBus; readonly?: boolean; tray?: "open" | "closed" };
  blockSize?: {
    custom?: { logical: number; physical: number };
    matchVolume?: { enabled?: boolean };
  };
  errorPolicy?: DiskErrorPolicy;
  io?: DiskIo;
  bootOrder?: number;
  serial?: string;
  cache?: DiskCache;
  dedicatedIOThread?: boolean;
  shareable?: boolean;
}

export interface InterfaceInput {
  name: string;
  model?: InterfaceModel;
  macAddress?: string;
  masquerade?: Empty;
  bridge?: Empty;
  ports?: PortInput[];
  bootOrder?: number;
  acpiIndex?: number;
  state?: "up" | "down" | "absent";
}

export interface PortInput {
  name?: string;
  port: number;
  protocol?: "TCP" | "UDP";
}

export interface NetworkInput {
  name: string;
  pod?: Empty;
  multus?: { networkName: string; default?: boolean };
}

export interface VolumeInput {
  name: string;
  containerDisk?: { image: string; imagePullPolicy?: ImagePullPolicy; path?: string };
  emptyDisk?: { capacity: QuantityValue };
  cloudInitNoCloud?: CloudInit;
  cloudInitConfigDrive?: CloudInit;
  /** `shared` is accepted with a warning and not stored. */
  hostDisk?: HostDisk & { shared?: boolean };
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean; hotpluggable?: boolean };
  ephemeral?: { persistentVolumeClaim: { claimName: string; readOnly?: boolean } };
  dataVolume?: { name: string };
}
