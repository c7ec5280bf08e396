/**
 * What headroom does with each KubeVirt field it does not honor: accepts it
 * with a warning that says why it has no effect here, or refuses it saying
 * why. docs/kubevirt-compatibility.md lists every field with its treatment.
 *
 * Keys name a field by its path in the document, `[]` standing for any entry
 * of a list: `spec.domain.devices.gpus`, `spec.volumes[].configMap`.
 */
import type { PathSegment } from "./field-path.ts";
import type { FieldError } from "./result.ts";

const NO_HYPERV =
  "headroom gives guests no Hyper-V enlightenments yet: a Windows guest runs without them, slower (QEMU has them only under KVM)";

const HEADLESS =
  "headroom guests are headless: no display is attached, so there is no pointer or keyboard to give them";

const NO_DEVICE_TAGS =
  "headroom's config drive carries no device metadata, so the tag reaches no guest";

const NO_VOLUME_HOTPLUG =
  "headroom attaches every volume when the VMI starts, and detaches none while it runs";

/** Accepted with a warning: the field asks for something that has no meaning on headroom's hosts. */
const IGNORED: Record<string, string> = {
  status: "it is written by headroom, never read from a document",
  apiVersion:
    "kubevirt.io/v1alpha3 is deprecated in KubeVirt; the VMI is read and stored as kubevirt.io/v1",
  // KubeVirt starts these sidecars to rewrite the domain (QEMU arguments,
  // SMBIOS); the annotation is kept, but nothing runs them here.
  "metadata.annotations[hooks.kubevirt.io/hookSidecars]":
    "headroom runs no sidecar hooks, so nothing changes the domain the way they would (the annotation is kept)",
  "spec.affinity.podAffinity":
    "headroom places a VMI by its hosts' labels and room, not by the VMIs already on them",
  "spec.affinity.podAntiAffinity":
    "headroom places a VMI by its hosts' labels and room, not by the VMIs already on them",
  "spec.tolerations": "headroom's hosts carry no taints, so there is nothing to tolerate",
  "spec.topologySpreadConstraints":
    "headroom spreads VMIs over its hosts by VMIs placed and memory free, not by topology",
  "spec.schedulerName": "headroom places VMIs itself; there is no Kubernetes scheduler",
  "spec.priorityClassName": "headroom never evicts a VMI to make room for another",
  "spec.evictionStrategy": "headroom does not migrate VMIs between hosts",
  "spec.livenessProbe":
    "headroom does not probe guests; a VMI is Running once its domain runs (delete and apply again to restart it)",
  "spec.readinessProbe": "headroom does not probe guests; a VMI is Running once its domain runs",
  "spec.dnsPolicy":
    "there is no cluster DNS: the pod network's DHCP gives the guest the host's resolver",
  "spec.dnsConfig":
    "there is no cluster DNS: the pod network's DHCP gives the guest the host's resolver",
  "spec.subdomain":
    "there is no cluster DNS to give the guest a name under it: the guest's hostname is spec.hostname (or metadata.name) alone",
  "spec.domain.resources.requests.cpu":
    "headroom reserves no host CPU time for a guest; its vCPUs come from spec.domain.cpu",
  "spec.domain.resources.limits.cpu":
    "headroom puts no CPU limit on a guest; its vCPUs come from spec.domain.cpu",
  "spec.domain.resources.requests.ephemeral-storage":
    "headroom keeps a VMI's disks in its state directory and sets no quota on them",
  "spec.domain.resources.limits.ephemeral-storage":
    "headroom keeps a VMI's disks in its state directory and sets no quota on them",
  "spec.domain.firmware.bootloader.efi.persistent":
    "a VMI keeps its EFI variables as long as it lives, and there is no VirtualMachine to keep them longer",
  "spec.domain.devices.tpm.persistent":
    "a VMI keeps its TPM's state as long as it lives, and there is no VirtualMachine to keep it longer",
  "spec.volumes[].hostDisk.shared":
    "it tells KubeVirt the file is on storage every node sees, for migration; headroom does not migrate VMIs",
  "spec.domain.devices.autoattachGraphicsDevice":
    "headroom guests are headless: no display is attached (headroom logs shows the serial console); false is what headroom always does",
  "spec.domain.features.hyperv": NO_HYPERV,
  "spec.domain.features.hypervPassthrough": NO_HYPERV,
  "spec.domain.clock.timer.hyperv":
    "headroom gives guests no Hyper-V clock yet: a Windows guest keeps time with its other timers",
  "spec.domain.features.kvm":
    "headroom does not hide the hypervisor from guests: they see QEMU's default signature",
  "spec.domain.features.apic.endOfInterrupt":
    "headroom leaves the paravirtual end-of-interrupt as QEMU has it (KVM's own, on under KVM)",
  "spec.domain.clock.timer.kvm": "headroom leaves kvmclock as QEMU has it (on under KVM)",
  "spec.domain.devices.autoattachSerialConsole":
    "headroom always attaches a serial console: the guest's boot output and headroom logs come from it; true is what headroom always does",
  "spec.domain.devices.logSerialConsole":
    "headroom always keeps what the serial console shows (headroom logs reads it); true is what headroom always does",
  "spec.domain.devices.autoattachInputDevice": HEADLESS,
  "spec.domain.devices.inputs": HEADLESS,
  "spec.domain.devices.sound":
    "headroom guests are headless: there is no display or audio to play sound to",
  "spec.domain.devices.disableHotplug":
    "headroom hot-plugs no disks, so there is nothing to disable (NICs hot-plug as the VMI's request allows)",
  "spec.domain.features.pvspinlock":
    "headroom leaves paravirtual spinlocks as QEMU has them (on under KVM for Linux guests)",
  "spec.domain.cpu.maxSockets":
    "headroom does not hot-plug vCPUs: the guest has the sockets it starts with",
  "spec.domain.memory.maxGuest":
    "headroom does not hot-plug memory: the guest has the memory it starts with",
  "spec.domain.devices.disks[].tag": NO_DEVICE_TAGS,
  "spec.domain.devices.interfaces[].tag": NO_DEVICE_TAGS,
  "spec.domain.devices.disks[].blockSize.matchVolume":
    "headroom's volumes are files, with no block size of their own to match: the guest gets QEMU's default (512 bytes); give blockSize.custom to choose",
  "spec.domain.devices.interfaces[].dhcpOptions":
    "the pod network's DHCP server (libvirt's dnsmasq) gives every guest the same options, and a multus network's DHCP is the network's own",
  "spec.volumes[].persistentVolumeClaim.hotpluggable": NO_VOLUME_HOTPLUG,
  "spec.volumes[].dataVolume.hotpluggable": NO_VOLUME_HOTPLUG,
  "spec.serviceAccountName":
    "there is no Kubernetes service account, nor a virt-launcher pod to run as one",
  "spec.domain.memory.reservedOverhead":
    "headroom reserves no memory for QEMU's own overhead, so there is none to add to",
  "spec.domain.devices.panicDevices":
    "headroom gives guests no panic device yet: a crashed guest's domain stops, and headroom logs shows its console",
  "spec.domain.devices.disks[].changedBlockTracking":
    "headroom takes no backups, so there are no changed blocks to track",
  "spec.domain.resources.overcommitGuestOverhead":
    "headroom reserves no memory for QEMU's own overhead, so there is none to overcommit",
};

const NO_KUBERNETES = "headroom has no Kubernetes to hold the object it names";
const NO_PASSTHROUGH = "headroom's hosts pass no hardware through to guests";
const SET_BY_HEADROOM = "it is set by headroom, never by a document; remove it";

const FIXED_ADDRESS =
  "headroom places each device itself, around the PCI room the interface request keeps; a fixed address could take that room";

const POD_SUBNET =
  "the pod network is its host's one NAT network, on the subnet the host's administrator set (HEADROOM_POD_SUBNET); a VMI cannot choose its own";

/** Refused, with the reason. */
const REFUSED: Record<string, string> = {
  "metadata.generateName": "headroom needs metadata.name; it makes no names",
  "metadata.uid": SET_BY_HEADROOM,
  "metadata.resourceVersion": SET_BY_HEADROOM,
  "metadata.generation": SET_BY_HEADROOM,
  "metadata.creationTimestamp": SET_BY_HEADROOM,
  "metadata.deletionTimestamp": SET_BY_HEADROOM,
  "metadata.deletionGracePeriodSeconds": SET_BY_HEADROOM,
  "metadata.managedFields": SET_BY_HEADROOM,
  "metadata.selfLink": SET_BY_HEADROOM,
  "metadata.ownerReferences": "it is Kubernetes' garbage collection, which headroom has none of",
  "metadata.finalizers": "it is Kubernetes' garbage collection, which headroom has none of",
  "spec.accessCredentials": `it copies keys from Kubernetes secrets; ${NO_KUBERNETES}`,
  "spec.resourceClaims": `it claims devices through Kubernetes; ${NO_PASSTHROUGH}`,
  "spec.domain.firmware.acpi": `its ACPI tables come from Secret volumes; ${NO_KUBERNETES}`,
  "spec.domain.launchSecurity":
    "it needs AMD SEV or Intel TDX, which headroom's hosts do not offer",
  "spec.domain.cpu.dedicatedCpuPlacement": "headroom does not pin guests to host CPUs",
  "spec.domain.cpu.isolateEmulatorThread": "headroom does not pin guests to host CPUs",
  "spec.domain.cpu.realtime": "headroom does not pin guests to host CPUs",
  "spec.domain.cpu.numa": "headroom does not place guests on host NUMA nodes",
  "spec.domain.memory.hugepages": "headroom reserves no hugepages on its hosts",
  "spec.domain.devices.gpus": NO_PASSTHROUGH,
  "spec.domain.devices.watchdog.diag288": "it is an s390x watchdog; headroom's hosts are x86_64",
  "spec.domain.devices.hostDevices": NO_PASSTHROUGH,
  "spec.domain.devices.clientPassthrough": "USB redirection needs a client (virtctl usbredir)",
  "spec.domain.devices.filesystems": `it shares Kubernetes volumes with virtiofs; ${NO_KUBERNETES}`,
  "spec.domain.devices.downwardMetrics":
    "it is Kubernetes' downward metrics, which headroom has none of",
  "spec.domain.devices.disks[].lun": `it hands a host block device's SCSI commands to the guest; ${NO_PASSTHROUGH}`,
  "spec.domain.devices.interfaces[].sriov": NO_PASSTHROUGH,
  "spec.domain.devices.interfaces[].macvtap":
    "it needs KubeVirt's macvtap device plugin; use bridge on a multus network",
  "spec.domain.devices.interfaces[].binding":
    "it names a KubeVirt network binding plugin; use masquerade or bridge",
  "spec.domain.devices.interfaces[].slirp": "KubeVirt removed the slirp binding; use masquerade",
  "spec.domain.devices.interfaces[].passtBinding":
    "libvirt runs passt from version 9.2; headroom's hosts have Debian 12's libvirt 9.0: use masquerade",
  "spec.domain.devices.interfaces[].portRanges":
    "headroom forwards single ports: list each in ports",
  "spec.networks[].resourceClaim": `it claims a network device through Kubernetes; ${NO_PASSTHROUGH}`,
  "spec.volumes[].containerPath":
    "it shares a path of KubeVirt's virt-launcher container through virtiofs; headroom runs no such container",
  "spec.utilityVolumes":
    "they are Kubernetes claims for KubeVirt's memory dumps and backups, which headroom takes none of",
  "spec.domain.devices.interfaces[].passt":
    "libvirt runs passt from version 9.2; headroom's hosts have Debian 12's libvirt 9.0: use masquerade",
  "spec.domain.devices.disks[].disk.pciAddress": FIXED_ADDRESS,
  "spec.domain.devices.interfaces[].pciAddress": FIXED_ADDRESS,
  "spec.domain.devices.disks[].blockSize.custom.discardGranularity":
    "libvirt 9.0, on headroom's hosts, cannot set it: the guest gets QEMU's default",
  "spec.domain.ioThreads":
    "it sizes KubeVirt's supplementalPool IO threads, which libvirt 9.0 cannot map to a disk's queues: use ioThreadsPolicy shared or auto",
  "spec.networks[].pod.vmNetworkCIDR": POD_SUBNET,
  "spec.startStrategy":
    "headroom has no command to unpause a guest, so one started paused would never run",
  "spec.networks[].pod.vmIPv6NetworkCIDR":
    "the pod network gives guests IPv4 addresses only (its subnet is HEADROOM_POD_SUBNET)",
  "spec.volumes[].configMap": `it is a Kubernetes ConfigMap; ${NO_KUBERNETES}`,
  "spec.volumes[].secret": `it is a Kubernetes Secret; ${NO_KUBERNETES}`,
  "spec.volumes[].serviceAccount": `it is a Kubernetes service account; ${NO_KUBERNETES}`,
  "spec.volumes[].downwardAPI": "it is Kubernetes' downward API, which headroom has none of",
  "spec.volumes[].downwardMetrics":
    "it is Kubernetes' downward metrics, which headroom has none of",
  "spec.volumes[].sysprep": `it reads a Windows answer file from a ConfigMap or Secret; ${NO_KUBERNETES}`,
  "spec.volumes[].cloudInitNoCloud.secretRef": `it names a Kubernetes Secret; ${NO_KUBERNETES}: give userData instead`,
  "spec.volumes[].cloudInitNoCloud.networkDataSecretRef": `it names a Kubernetes Secret; ${NO_KUBERNETES}: give networkData instead`,
  "spec.volumes[].cloudInitConfigDrive.secretRef": `it names a Kubernetes Secret; ${NO_KUBERNETES}: give userData instead`,
  "spec.volumes[].cloudInitConfigDrive.networkDataSecretRef": `it names a Kubernetes Secret; ${NO_KUBERNETES}: give networkData instead`,
  "spec.volumes[].memoryDump":
    "it is where virtctl memory-dump writes; headroom takes no memory dumps",
  "spec.volumes[].containerDisk.imagePullSecret":
    "it names a Kubernetes secret; give the host a login instead: headroom registry login HOST",
  "spec.domain.firmware.kernelBoot.container.imagePullSecret":
    "it names a Kubernetes secret; give the host a login instead: headroom registry login HOST",
};

const NOT_YET =
  "headroom does not apply it yet (docs/kubevirt-compatibility.md lists what it applies)";

/** Why `key` is refused: its reason, or that headroom does not apply it yet. */
export function refusalOf(key: string): string {
  return REFUSED[key] ?? NOT_YET;
}

export type Treatment = "warning" | "refused" | "not yet";

/** The treatment of a field the schema refuses (`refused` or `not yet`) or warns about. */
export function treatmentOf(key: string): Treatment {
  if (Object.hasOwn(IGNORED, key)) return "warning";
  return Object.hasOwn(REFUSED, key) ? "refused" : "not yet";
}

/** Keys of the fields accepted with a warning. */
export const IGNORED_FIELDS: readonly string[] = Object.keys(IGNORED);

/** The key of the field at `segments`: `["spec", "volumes", 0, "secret"]` → `spec.volumes[].secret`. */
export function treatmentKey(segments: readonly PathSegment[]): string {
  return segments
    .map((segment) => (typeof segment === "number" ? "[]" : `.${segment}`))
    .join("")
    .replace(/^\./, "");
}

/** The warnings of a document that passed the schema: one per ignored field it holds. */
export function ignoredFieldWarnings(doc: Record<string, unknown>): FieldError[] {
  const warnings: FieldError[] = [];
  for (const [field, value] of fieldsOf(doc)) {
    // A list entry's field is warned about by its own path, looked up with [].
    const why = IGNORED[field.replace(/\[\d+\]/g, "[]")];
    if (why === undefined || value === undefined) continue;
    const message = field === "apiVersion" ? `${field}: ${why}` : `${field} has no effect: ${why}`;
    warnings.push({ field, message });
  }
  return warnings;
}

/** The document's values at the places ignored fields live, by path. */
function* fieldsOf(doc: Record<string, unknown>): Generator<[string, unknown]> {
  yield ["status", doc.status];
  const annotations = asRecord(asRecord(doc.metadata).annotations);
  yield [
    "metadata.annotations[hooks.kubevirt.io/hookSidecars]",
    annotations["hooks.kubevirt.io/hookSidecars"],
  ];
  // Only the deprecated version is worth a word.
  yield ["apiVersion", doc.apiVersion === "kubevirt.io/v1alpha3" ? doc.apiVersion : undefined];
  const spec = asRecord(doc.spec);
  for (const field of Object.keys(spec)) yield [`spec.${field}`, spec[field]];
  const affinity = asRecord(spec.affinity);
  yield ["spec.affinity.podAffinity", affinity.podAffinity];
  yield ["spec.affinity.podAntiAffinity", affinity.podAntiAffinity];
  const domain = asRecord(spec.domain);
  const resources = asRecord(domain.resources);
  for (const group of ["requests", "limits"]) {
    const values = asRecord(resources[group]);
    for (const field of Object.keys(values))
      yield [`spec.domain.resources.${group}.${field}`, values[field]];
  }
  yield ["spec.domain.resources.overcommitGuestOverhead", resources.overcommitGuestOverhead];
  const efi = asRecord(asRecord(asRecord(domain.firmware).bootloader).efi);
  yield ["spec.domain.firmware.bootloader.efi.persistent", efi.persistent];
  const features = asRecord(domain.features);
  for (const feature of ["hyperv", "hypervPassthrough", "kvm", "pvspinlock"])
    yield [`spec.domain.features.${feature}`, features[feature]];
  yield ["spec.domain.features.apic.endOfInterrupt", asRecord(features.apic).endOfInterrupt];
  const timer = asRecord(asRecord(domain.clock).timer);
  yield ["spec.domain.clock.timer.hyperv", timer.hyperv];
  yield ["spec.domain.clock.timer.kvm", timer.kvm];
  const devices = asRecord(domain.devices);
  // false asks for what headroom always does: no display.
  yield [
    "spec.domain.devices.autoattachGraphicsDevice",
    devices.autoattachGraphicsDevice === true ? true : undefined,
  ];
  yield ["spec.domain.devices.tpm.persistent", asRecord(devices.tpm).persistent];
  // Only a value other than what headroom always does is worth a word.
  for (const [field, always] of [
    ["autoattachSerialConsole", true],
    ["logSerialConsole", true],
    ["autoattachInputDevice", false],
    ["disableHotplug", false],
  ] as const)
    yield [`spec.domain.devices.${field}`, devices[field] === !always ? !always : undefined];
  yield ["spec.domain.devices.inputs", devices.inputs];
  yield ["spec.domain.devices.sound", devices.sound];
  yield ["spec.domain.cpu.maxSockets", asRecord(domain.cpu).maxSockets];
  yield ["spec.domain.memory.reservedOverhead", asRecord(domain.memory).reservedOverhead];
  yield ["spec.domain.devices.panicDevices", devices.panicDevices];
  yield ["spec.domain.memory.maxGuest", asRecord(domain.memory).maxGuest];
  for (const [i, disk] of listOf(devices.disks).entries()) {
    yield [`spec.domain.devices.disks[${i}].tag`, disk.tag];
    yield [
      `spec.domain.devices.disks[${i}].changedBlockTracking`,
      disk.changedBlockTracking === true ? true : undefined,
    ];
    yield [
      `spec.domain.devices.disks[${i}].blockSize.matchVolume`,
      asRecord(disk.blockSize).matchVolume,
    ];
  }
  for (const [i, iface] of listOf(devices.interfaces).entries()) {
    yield [`spec.domain.devices.interfaces[${i}].tag`, iface.tag];
    yield [`spec.domain.devices.interfaces[${i}].dhcpOptions`, iface.dhcpOptions];
  }
  for (const [i, volume] of listOf(spec.volumes).entries()) {
    yield [`spec.volumes[${i}].hostDisk.shared`, asRecord(volume.hostDisk).shared];
    // false is what headroom always does.
    for (const source of ["persistentVolumeClaim", "dataVolume"])
      yield [
        `spec.volumes[${i}].${source}.hotpluggable`,
        asRecord(volume[source]).hotpluggable === true ? true : undefined,
      ];
  }
}

function listOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map(asRecord) : [];
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
