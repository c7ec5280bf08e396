// One accepted VMI → the DomainPlan a launcher carries out. Everything the
// host knows (image store, network attachments, state directory) comes in
// through HostLookups, so this decides without touching NATS or the disk.
import { errorText } from "@headroom/bus";
import {
  composeDomain,
  DEFAULT_NIC_MODEL,
  DomainSpecError,
  domainSpecFromVmi,
  type HostPlacement,
  placeholderCount,
} from "@headroom/domain-xml";
import { domainNameOf, domainUuidOf } from "@headroom/host-state";
import { ImageStoreError, validateImageRef } from "@headroom/images";
import {
  CloudInitSeed,
  type ICapacity,
  type ICloudInitSeed,
  type IHostDisk,
  type IVolumeClaim,
} from "@headroom/proto";
import { toBytes } from "@headroom/quantity";
import {
  type Capacity,
  decodeBase64,
  imagePullPolicies,
  imagesUsedBy,
  networkAttachment,
  type Vmi,
  validateVmi,
  volumeClaimOf,
} from "@headroom/vmi";
import { missingNetworkMessage } from "./network_rules.ts";

/** The parts of a VmiAccepted composition reads. */
export interface AcceptedVmi {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  manifestJson: string;
}

/**
 * What the host offers. Images are not read here: the launcher fetches a
 * plan's images into its host's store, and a path into one is known
 * beforehand. imageFile throws an ImageStoreError (from @headroom/images) for
 * a reference or path that cannot be: the VMI fails with its message.
 */
export interface HostLookups {
  /** The host path a file inside an image will have in the host's image store. */
  imageFile(image: string, pathInImage: string): string;
  /** The host bridge of a network attachment; null when there is no such attachment. */
  bridgeOf(network: string): Promise<string | null>;
  consoleLog(namespace: string, name: string): string;
  /** The disk file of a VMI's volume (its overlay on the image, or a blank disk). */
  volumeFile(namespace: string, name: string, volume: string): string;
  /** The cloud-init seed disk of a VMI's volume. */
  seedFile(namespace: string, name: string, volume: string): string;
  /** Where a UEFI guest's EFI variables are kept. */
  nvramFile(namespace: string, name: string): string;
  /** A headroom volume's disk on the host. */
  volumeDisk(volume: string): string;
}

/**
 * A DiskFile of the plan: an overlay on an image's disk, a blank qcow2, a
 * cloud-init seed, or a raw file of the host's (hostDisk).
 */
export type PlannedDiskFile = { volumeName: string; path: string } & (
  | { image: string }
  | { blankSizeBytes: number }
  | { cloudInit: ICloudInitSeed }
  | { hostDisk: IHostDisk }
  | { volume: IVolumeClaim }
);

/** The DomainPlan composed for one generation, every field set. */
export interface ComposedPlan {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  domainName: string;
  domainUuid: string;
  /** Domain XML without placeholders (the launcher adds them to libvirt's read-back). */
  domainXml: string;
  placeholderCount: number;
  machineType: string;
  capacity: ICapacity;
  diskFiles: PlannedDiskFile[];
  bridges: string[];
  consoleLogPath: string;
  placeholderModel: string;
  /** Images the host must hold first: each containerDisk's and the kernel boot's, once each. */
  images: string[];
  /** The imagePullPolicy the VMI sets, by image. */
  imagePullPolicies: Record<string, string>;
}

export type ComposeResult =
  | { ok: true; plan: ComposedPlan }
  /** The VMI cannot run as it is; `reason` says why in plain words, naming the field or image. */
  | { ok: false; reason: string; domainName: string };

/** The virt type composed in; the launcher sets the one its host can run. */
const COMPOSED_VIRT_TYPE = "kvm";

type Looked<T> = { value: T } | { problem: string };

/** Runs an image lookup; an image store refusal becomes a problem of `field`. */
function imageLookup<T>(field: string, lookup: () => T): Looked<T> {
  try {
    return { value: lookup() };
  } catch (error) {
    if (!(error instanceof ImageStoreError)) throw error;
    return { problem: `${field}: ${error.message}` };
  }
}

function checkAccepted(accepted: AcceptedVmi): { vmi: Vmi; capacity: Capacity } | string {
  let doc: unknown;
  try {
    doc = JSON.parse(accepted.manifestJson);
  } catch (error) {
    return `the accepted manifest is not valid JSON: ${errorText(error)}`;
  }
  const result = validateVmi(doc);
  if (!result.valid || !result.vmi || !result.capacity) {
    const errors = result.errors.map((e) => e.message || e.field);
    return `the accepted VMI is not valid: ${errors.join("; ")}`;
  }
  const { vmi, capacity } = result;
  const { namespace, name } = vmi.metadata;
  if (namespace !== accepted.namespace || name !== accepted.name)
    return (
      `the accepted manifest is VMI ${namespace}/${name}, ` +
      `but it was handed over as ${accepted.namespace}/${accepted.name}`
    );
  if (!accepted.uid) return "the accepted VMI has no uid";
  if (!Number.isSafeInteger(accepted.generation) || accepted.generation < 1)
    return `the accepted VMI has generation ${accepted.generation}; generations start at 1`;
  return { vmi, capacity };
}

function safeDomainName(namespace: string, name: string): string {
  try {
    return domainNameOf(namespace, name);
  } catch {
    return "";
  }
}

/** Where a VMI's volumes, kernel and networks are on this host, or what is missing. */
interface Placement {
  volumes: HostPlacement["volumes"];
  diskFiles: PlannedDiskFile[];
  kernel?: HostPlacement["kernel"];
  bridgesByNetwork: Record<string, string>;
  bridges: string[];
  /** In the order of the spec: volumes, kernel, networks. */
  problems: string[];
}

// The lookups read files and the network bucket; they run at once, since
// each waits on I/O and none depends on another.
async function placeOnHost(vmi: Vmi, host: HostLookups): Promise<Placement> {
  const [disks, kernel, networks] = await Promise.all([
    placeVolumes(vmi, host),
    placeKernel(vmi, host),
    placeNetworks(vmi, host),
  ]);
  return {
    ...disks,
    ...(kernel.kernel ? { kernel: kernel.kernel } : {}),
    ...networks,
    problems: [...disks.problems, ...kernel.problems, ...networks.problems],
  };
}

type Volume = Vmi["spec"]["volumes"][number];

async function placeVolumes(vmi: Vmi, host: HostLookups) {
  const placed = await Promise.all(
    vmi.spec.volumes.map((volume, i) => placeVolume(vmi, volume, i, host)),
  );
  const volumes: HostPlacement["volumes"] = {};
  const diskFiles: PlannedDiskFile[] = [];
  const problems: string[] = [];
  for (const one of placed) {
    if ("problem" in one) {
      problems.push(one.problem);
      continue;
    }
    diskFiles.push(one.value);
    volumes[one.value.volumeName] = hostFileOf(one.value);
  }
  return { volumes, diskFiles, problems };
}

/**
 * How the guest reads a planned file: qcow2 files of the VMI's own (an overlay
 * on the image, or blank) and volumes (read-only when claimed so), its seed,
 * which the guest only reads, or a raw file of the host's.
 */
function hostFileOf(file: PlannedDiskFile): HostPlacement["volumes"][string] {
  const { path } = file;
  if ("cloudInit" in file) return { path, format: "raw", readonly: true };
  if ("hostDisk" in file) return { path, format: "raw" };
  if ("volume" in file && file.volume.readOnly) return { path, format: "qcow2", readonly: true };
  return { path, format: "qcow2" };
}

async function placeVolume(
  vmi: Vmi,
  volume: Volume,
  i: number,
  host: HostLookups,
): Promise<Looked<PlannedDiskFile>> {
  const { namespace, name } = vmi.metadata;
  const cloudInit = volume.cloudInitNoCloud ?? volume.cloudInitConfigDrive;
  if (cloudInit) {
    const path = host.seedFile(namespace, name, volume.name);
    const kind = volume.cloudInitNoCloud
      ? CloudInitSeed.Kind.KIND_NOCLOUD
      : CloudInitSeed.Kind.KIND_CONFIG_DRIVE;
    const userData = cloudInit.userDataBase64
      ? decodeBase64(cloudInit.userDataBase64)
      : Buffer.from(cloudInit.userData ?? "");
    const networkData =
      cloudInit.networkDataBase64 !== undefined
        ? decodeBase64(cloudInit.networkDataBase64)
        : cloudInit.networkData !== undefined
          ? Buffer.from(cloudInit.networkData)
          : undefined;
    if (userData === null || networkData === null)
      return { problem: `spec.volumes[${i}]: its cloud-init data is not valid base64` };
    // As KubeVirt: the instance is <name>.<namespace>, the host is
    // spec.hostname or else the VMI's name.
    const seed: ICloudInitSeed = {
      kind,
      instanceId: `${name}.${namespace}`,
      hostname: vmi.spec.hostname ?? name,
      userData,
      ...(networkData ? { networkData } : {}),
    };
    return { value: { volumeName: volume.name, path, cloudInit: seed } };
  }
  const path = host.volumeFile(namespace, name, volume.name);
  if (volume.containerDisk) {
    const image = volume.containerDisk.image;
    const checked = imageLookup(`spec.volumes[${i}].containerDisk.image`, () =>
      validateImageRef(image),
    );
    if ("problem" in checked) return checked;
    const diskPath = volume.containerDisk.path;
    return {
      value: { volumeName: volume.name, path, image, ...(diskPath && { imageDiskPath: diskPath }) },
    };
  }
  if (volume.emptyDisk) {
    const size = toBytes(volume.emptyDisk.capacity);
    if (!size.ok) return { problem: `spec.volumes[${i}].emptyDisk.capacity: ${size.reason}` };
    return { value: { volumeName: volume.name, path, blankSizeBytes: Number(size.bytes) } };
  }
  const claim = volumeClaimOf(volume);
  if (claim) {
    // An ephemeral volume's guest writes to an overlay in the VMI's directory.
    const diskPath = claim.ephemeral ? path : host.volumeDisk(claim.name);
    return { value: { volumeName: volume.name, path: diskPath, volume: claim } };
  }
  if (volume.hostDisk) {
    const { path: hostPath, type, capacity } = volume.hostDisk;
    const size = capacity === undefined ? null : toBytes(capacity);
    if (size && !size.ok)
      return { problem: `spec.volumes[${i}].hostDisk.capacity: ${size.reason}` };
    const hostDisk: IHostDisk = {
      create: type === "DiskOrCreate",
      ...(size?.ok ? { capacityBytes: Number(size.bytes) } : {}),
    };
    return { value: { volumeName: volume.name, path: hostPath, hostDisk } };
  }
  return { problem: `spec.volumes[${i}]: has no source headroom can place` };
}

async function placeKernel(
  vmi: Vmi,
  host: HostLookups,
): Promise<{ kernel?: HostPlacement["kernel"]; problems: string[] }> {
  const kernelBoot = vmi.spec.domain.firmware?.kernelBoot;
  if (!kernelBoot) return { problems: [] };
  const { image, kernelPath, initrdPath } = kernelBoot.container;
  const field = "spec.domain.firmware.kernelBoot.container";
  const kernelFile = imageLookup(`${field}.kernelPath`, () => host.imageFile(image, kernelPath));
  const initrdFile =
    initrdPath === undefined
      ? undefined
      : imageLookup(`${field}.initrdPath`, () => host.imageFile(image, initrdPath));
  const problems = [kernelFile, initrdFile].flatMap((looked) =>
    looked && "problem" in looked ? [looked.problem] : [],
  );
  if ("problem" in kernelFile || (initrdFile && "problem" in initrdFile)) return { problems };
  const initrd = initrdFile && "value" in initrdFile ? { initrdPath: initrdFile.value } : {};
  return { kernel: { kernelPath: kernelFile.value, ...initrd }, problems };
}

async function placeNetworks(vmi: Vmi, host: HostLookups) {
  const looked = await Promise.all(
    vmi.spec.networks.map(async (network, i) => {
      if (!network.multus) return null;
      const networkName = network.multus.networkName;
      const attachment = networkAttachment(networkName);
      const bridge = await host.bridgeOf(attachment);
      return { i, networkName, attachment, bridge };
    }),
  );
  const bridgesByNetwork: Record<string, string> = {};
  const bridges: string[] = [];
  const problems: string[] = [];
  for (const one of looked) {
    if (!one) continue;
    const { i, networkName, attachment, bridge } = one;
    if (bridge === null) {
      problems.push(`spec.networks[${i}].multus.networkName: ${missingNetworkMessage(attachment)}`);
      continue;
    }
    // domainSpecFromVmi looks the bridge up by the networkName as written.
    bridgesByNetwork[networkName] = bridge;
    if (!bridges.includes(bridge)) bridges.push(bridge);
  }
  return { bridgesByNetwork, bridges, problems };
}

/**
 * Composes the DomainPlan of one accepted VMI: validates it again, places its
 * volumes, kernel, networks and console on the host, and composes the domain
 * XML (without placeholders) plus how many placeholders reserve its interface
 * capacity. Every problem found is reported at once.
 */
export async function composePlan(
  accepted: AcceptedVmi,
  host: HostLookups,
): Promise<ComposeResult> {
  const domainName = safeDomainName(accepted.namespace, accepted.name);
  const checked = checkAccepted(accepted);
  if (typeof checked === "string") return { ok: false, reason: checked, domainName };
  const { vmi, capacity } = checked;
  const { namespace, name } = vmi.metadata;
  const { volumes, diskFiles, kernel, bridgesByNetwork, bridges, problems } = await placeOnHost(
    vmi,
    host,
  );
  if (problems.length > 0) return { ok: false, reason: problems.join("; "), domainName };

  const consoleLogPath = host.consoleLog(namespace, name);
  // firmware.uuid is the guest's SMBIOS UUID, which libvirt takes only as the domain's.
  const domainUuid = vmi.spec.domain.firmware?.uuid?.toLowerCase() ?? domainUuidOf(accepted.uid);
  let domainXml: string;
  try {
    const spec = domainSpecFromVmi(vmi, {
      uuid: domainUuid,
      virtType: COMPOSED_VIRT_TYPE,
      domainName,
      volumes,
      ...(kernel ? { kernel } : {}),
      bridges: bridgesByNetwork,
      serialConsoleLogPath: consoleLogPath,
      nvramPath: host.nvramFile(namespace, name),
    });
    domainXml = composeDomain(spec);
  } catch (error) {
    if (!(error instanceof DomainSpecError)) throw error;
    return { ok: false, reason: `the domain cannot be composed: ${error.message}`, domainName };
  }

  const placeholderModel = DEFAULT_NIC_MODEL;
  const count = placeholderCount(capacity.requested, capacity.interfaces);
  return {
    ok: true,
    plan: {
      namespace,
      name,
      uid: accepted.uid,
      generation: accepted.generation,
      domainName,
      domainUuid,
      domainXml,
      placeholderCount: count,
      machineType: vmi.spec.domain.machine.type,
      capacity: {
        ...(capacity.requested !== null ? { requested: capacity.requested } : {}),
        interfaces: capacity.interfaces,
        effective: capacity.effective,
      },
      diskFiles,
      bridges,
      consoleLogPath,
      placeholderModel,
      images: imagesUsedBy(vmi),
      imagePullPolicies: imagePullPolicies(vmi),
    },
  };
}
