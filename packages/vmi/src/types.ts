/**
 * The VirtualMachineInstance subset headroom supports, as it looks after
 * validation: defaults applied and the seed's `spec.domain.rng` moved to
 * `spec.domain.devices.rng`. Lists are always present (possibly empty).
 */

/** A Kubernetes quantity as written: 5, "5", "10000m", "128Mi". Parse with @headroom/quantity. */
export type QuantityValue = string | number;

export type MachineType = "q35" | "pc";
export type DiskBus = "virtio" | "sata" | "scsi";
export type DiskErrorPolicy = "stop" | "ignore" | "report" | "enospace";
export type DiskIo = "native" | "threads";
/** A CD-ROM drive is never virtio, as in KubeVirt. */
export type CdromBus = "sata" | "scsi";
export type InterfaceModel = "virtio" | "e1000" | "e1000e" | "rtl8139";
export type DiskCache = "none" | "writethrough" | "writeback";
export type InterfaceBinding = "masquerade" | "bridge";
export type ImagePullPolicy = "Always" | "IfNotPresent" | "Never";
export type IoThreadsPolicy = "shared" | "auto";
export type ChassisField = "manufacturer" | "version" | "serial" | "asset" | "sku";

/** An object whose presence is the setting, e.g. `masquerade: {}`. */
export type Empty = Record<string, never>;

export interface Vmi {
  apiVersion: "kubevirt.io/v1";
  kind: "VirtualMachineInstance";
  metadata: VmiMetadata;
  spec: VmiSpec;
}

export interface VmiMetadata {
  name: string;
  /** "default" when the document has none. */
  namespace: string;
  labels?: Record<string, string>;
  /** Stored and shown; headroom acts on none. */
  annotations?: Record<string, string>;
}

export interface VmiSpec {
  domain: DomainSpec;
  networks: Network[];
  volumes: Volume[];
  /** Seconds the guest gets to shut down when the VMI is deleted; KubeVirt's 30 when absent. */
  terminationGracePeriodSeconds: number;
  /** The guest's hostname (cloud-init's local-hostname); the VMI's name when absent. */
  hostname?: string;
  /** Labels a host must carry to run the VMI. */
  nodeSelector?: Record<string, string>;
  /** Only nodeAffinity is honored (podAffinity and podAntiAffinity are warned about). */
  affinity?: { nodeAffinity?: NodeAffinity };
}

/** Which hosts may run a VMI (required), and which it would rather run on (preferred). */
export interface NodeAffinity {
  requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
  preferredDuringSchedulingIgnoredDuringExecution?: Array<{
    weight: number;
    preference: NodeSelectorTerm;
  }>;
}

/** A host matches when it meets every expression (its labels) and every field (metadata.name). */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface NodeSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  values?: string[];
}

export interface DomainSpec {
  cpu?: Cpu;
  /** `guest` is always set: from the document, or else from resources.requests.memory. */
  memory: { guest: QuantityValue };
  /** "q35" when the document has none. */
  machine: { type: MachineType };
  /**
   * `serial`: the SMBIOS system serial the guest reads; `uuid`: its SMBIOS
   * UUID, which is also the domain's; `bootloader`: BIOS when absent.
   */
  firmware?: { kernelBoot?: KernelBoot; serial?: string; uuid?: string; bootloader?: Bootloader };
  /** ACPI and the APIC are always on; `smm` turns on System Management Mode. */
  features?: Features;
  /** UTC (with an offset) or a timezone, as the guest's RTC keeps it, and its timers. */
  clock?: Clock;
  /** The guest's SMBIOS chassis, each field as text (a number in the document is written out). */
  chassis?: Partial<Record<ChassisField, string>>;
  /** IO threads for the virtio disks; none when absent and no disk asks for its own. */
  ioThreadsPolicy?: IoThreadsPolicy;
  devices: Devices;
  resources?: Resources;
}

/** One of the two; `efi.secureBoot` is stored as KubeVirt defaults it (true). */
export type Bootloader = { bios: { useSerial?: boolean } } | { efi: { secureBoot: boolean } };

/** KubeVirt's FeatureState: a feature given is enabled unless `enabled: false`. */
export interface Features {
  acpi?: { enabled?: boolean };
  apic?: { enabled?: boolean };
  smm?: { enabled?: boolean };
}

/** KubeVirt's clock: one of utc and timezone, UTC when neither. */
export interface Clock {
  utc?: { offsetSeconds?: number };
  timezone?: string;
  timer?: {
    hpet?: Timer;
    pit?: Timer;
    rtc?: Timer & { track?: "guest" | "wall" };
  };
}

export interface Timer {
  present?: boolean;
  tickPolicy?: "delay" | "catchup" | "merge" | "discard";
}

export interface Cpu {
  /** host-model, host-passthrough, or a CPU model by name; QEMU's default when absent. */
  model?: string;
  cores?: number;
  sockets?: number;
  threads?: number;
  /** Stored with KubeVirt's default policy, require. */
  features?: CpuFeature[];
}

export type CpuFeaturePolicy = "require" | "force" | "optional" | "disable" | "forbid";

export interface CpuFeature {
  name: string;
  policy: CpuFeaturePolicy;
}

export interface KernelBoot {
  kernelArgs?: string;
  container: {
    image: string;
    kernelPath: string;
    initrdPath?: string;
    imagePullPolicy?: ImagePullPolicy;
  };
}

export interface Devices {
  disks: Disk[];
  interfaces: Interface[];
  rng?: Empty;
  /** A TPM 2.0 (swtpm); `tpm: {enabled: false}` is stored as no TPM. */
  tpm?: Empty;
  /** Kept when false: the guest gets no virtio memory balloon. */
  autoattachMemBalloon?: false;
  /** Kept when true: each virtio disk gets a queue per vCPU. */
  blockMultiQueue?: true;
  /** Kept when true: each virtio interface gets a queue pair per vCPU. */
  networkInterfaceMultiqueue?: true;
  /** A display adapter (no display is attached). */
  video?: { type: "vga" | "bochs" | "virtio" | "cirrus" };
  /** An Intel 6300ESB watchdog; `action` is KubeVirt's default, reset, when absent. */
  watchdog?: { name: string; i6300esb: { action: "poweroff" | "reset" | "shutdown" } };
  /** Kept when false, so a VMI validated again gets no pod interface either. */
  autoattachPodInterface?: false;
}

export interface Disk {
  name: string;
  /**
   * Exactly one of `disk` or `cdrom`. A disk's `bus` is "virtio" when the
   * document has none, and `readonly` is kept when true; a CD-ROM is stored
   * with KubeVirt's defaults (sata, read-only, tray closed).
   */
  disk?: { bus: DiskBus; readonly?: true };
  cdrom?: { bus: CdromBus; readonly: true; tray: "open" | "closed" };
  /** The block sizes the guest sees, in bytes (matchVolume is warned about, not kept). */
  blockSize?: { custom: { logical: number; physical: number } };
  errorPolicy?: DiskErrorPolicy;
  /** native: Linux AIO, which reads and writes past the host's cache (cache is then none). */
  io?: DiskIo;
  bootOrder?: number;
  serial?: string;
  cache?: DiskCache;
  /** Kept when true: the disk gets an IO thread of its own. */
  dedicatedIOThread?: true;
  /** Kept when true: other VMIs may use the same host disk at once. */
  shareable?: true;
}

export interface Interface {
  name: string;
  /** "virtio" when the document has none. */
  model: InterfaceModel;
  macAddress?: string;
  /** Exactly one of masquerade (pod network) or bridge (multus network) is set. */
  masquerade?: Empty;
  bridge?: Empty;
  /** Guest ports the host forwards to (masquerade only; TCP). */
  ports?: Port[];
  /** Its place in the boot order, unique among disks and interfaces. */
  bootOrder?: number;
  /** The index the guest's firmware gives the NIC (ACPI _DSM), unique among interfaces. */
  acpiIndex?: number;
  /** Kept when down: the guest sees the link down ("up" is the default). */
  state?: "down";
}

export interface Port {
  name?: string;
  port: number;
  /** "TCP" when the document has none. */
  protocol: "TCP";
}

export interface Network {
  name: string;
  /** Exactly one of pod or multus is set. */
  pod?: Empty;
  /** `networkName` as written: NAME or NAMESPACE/NAME (see networkAttachment). */
  /** `default`, kept when true: the VMI's default network, in place of the pod network. */
  multus?: { networkName: string; default?: true };
}

/**
 * The network attachment a multus networkName names. KubeVirt allows
 * NAMESPACE/NAME; headroom's attachments are not namespaced, so NAME says which.
 */
export function networkAttachment(networkName: string): string {
  return networkName.slice(networkName.lastIndexOf("/") + 1);
}

export interface Volume {
  name: string;
  /** Exactly one source is set. */
  /** `path`: the disk's file in the image; the first file under /disk/ when absent. */
  containerDisk?: { image: string; imagePullPolicy?: ImagePullPolicy; path?: string };
  emptyDisk?: { capacity: QuantityValue };
  /** A seed disk cloud-init reads: NoCloud (label cidata) or ConfigDrive (label config-2). */
  cloudInitNoCloud?: CloudInit;
  cloudInitConfigDrive?: CloudInit;
  hostDisk?: HostDisk;
  /** A headroom volume by name (headroom volume create); read-only when asked. */
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  /** A headroom volume by name, as persistentVolumeClaim. */
  dataVolume?: { name: string };
  /** A headroom volume under an overlay of the VMI's own, gone with the VMI. */
  ephemeral?: { persistentVolumeClaim: { claimName: string; readOnly?: boolean } };
}

/**
 * The headroom volume a VMI volume names (persistentVolumeClaim, dataVolume,
 * or ephemeral: under an overlay), if any.
 */
export function volumeClaimOf(
  volume: Volume,
): { name: string; readOnly: boolean; ephemeral: boolean } | undefined {
  const claim = volume.persistentVolumeClaim ?? volume.ephemeral?.persistentVolumeClaim;
  if (claim)
    return {
      name: claim.claimName,
      readOnly: claim.readOnly === true,
      ephemeral: volume.ephemeral !== undefined,
    };
  if (volume.dataVolume) return { name: volume.dataVolume.name, readOnly: false, ephemeral: false };
  return undefined;
}

/**
 * A raw disk image file on the host: `Disk` must exist, `DiskOrCreate` is made
 * (sparse, of `capacity`) when it does not. The launcher takes it only under
 * the directories its host's administrator allows (HEADROOM_HOST_DISK_DIRS).
 */
export interface HostDisk {
  path: string;
  type: "Disk" | "DiskOrCreate";
  capacity?: QuantityValue;
}

/** cloud-init data as written: one of userData/userDataBase64, at most one of the network pair. */
export interface CloudInit {
  userData?: string;
  userDataBase64?: string;
  networkData?: string;
  networkDataBase64?: string;
}

export interface Resources {
  requests?: { memory?: QuantityValue; "kubevirt.io/interface"?: QuantityValue };
  limits?: { memory?: QuantityValue };
}

/** The binding an interface uses. */
export function interfaceBinding(iface: Interface): InterfaceBinding {
  return iface.masquerade ? "masquerade" : "bridge";
}
