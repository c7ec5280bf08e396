// A plan is checked before anything on the host changes. Whoever holds the
// composer's login can publish one, and the launcher acts as root: every name,
// file and bridge in a plan must be the ones headroom derives for its VMI, and
// its domain XML what the composer composes (composedDomainProblems).
import { realpath } from "node:fs/promises";
import { sep } from "node:path";
import {
  composedDomainProblems,
  type GuestAllowance,
  isBridgeName,
  MAX_PLACEHOLDERS,
  NIC_MODELS,
  placeholderCount,
} from "@headroom/domain-xml";
import { domainNameOf, domainUuidOf, type HostState, isDnsLabel } from "@headroom/host-state";
import { imageRootPath } from "@headroom/images";
import {
  CloudInitSeed,
  type DomainPlan,
  type ICapacity,
  type ICloudInitSeed,
  type IDiskFile,
  type IGuestResources,
  type IVmiAccepted,
} from "@headroom/proto";
import { hostDiskProblems } from "./host_disks.ts";

// The validator takes emptyDisk capacities from 1 MiB to 1 TiB.
const MAX_BLANK_BYTES = 2 ** 40;
// ... and cloud-init user and network data of 64 KiB each.
const MAX_SEED_DATA_BYTES = 64 * 1024;

/** A value as a message shows it: quoted, escaped, and cut short. */
function shown(value: unknown): string {
  const text = String(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/**
 * Every way `plan` departs from what headroom would compose for its VMI;
 * empty when none. `stored` is the VMI's record as the validator stored it:
 * the room, memory, vCPUs and machine a VMI gets come from there, not from
 * the plan's author.
 */
export async function planProblems(
  plan: DomainPlan,
  state: HostState,
  stored: Pick<IVmiAccepted, "capacity" | "guest">,
  hostDiskDirs: readonly string[] = [],
): Promise<string[]> {
  const { capacity } = stored;
  const { namespace, name } = plan;
  let domainName: string;
  try {
    domainName = domainNameOf(namespace, name);
  } catch {
    return [`the plan's VMI ${shown(`${namespace}/${name}`)} has no valid name (DNS-1123 labels)`];
  }
  // The VMI's firmware.uuid, as the validator stored it, else the one its uid gives.
  const uuid = stored.guest?.firmwareUuid || domainUuidOf(plan.uid);
  const problems: string[] = [];
  if (plan.domainName !== domainName)
    problems.push(`domainName ${shown(plan.domainName)} is not the VMI's (${domainName})`);
  if (plan.domainUuid.toLowerCase() !== uuid)
    problems.push(`domainUuid ${shown(plan.domainUuid)} is not the VMI's (${uuid})`);
  problems.push(...roomProblems(plan, capacity));
  if (plan.placeholderModel !== "" && !NIC_MODELS.includes(plan.placeholderModel as never))
    problems.push(
      `placeholderModel ${shown(plan.placeholderModel)} is not one of ${NIC_MODELS.join(", ")}`,
    );
  if (plan.consoleLogPath !== "" && plan.consoleLogPath !== state.consoleLog(namespace, name))
    problems.push(`consoleLogPath ${shown(plan.consoleLogPath)} is not the VMI's console log`);
  for (const bridge of plan.bridges) {
    if (!isBridgeName(bridge) || bridge === "." || bridge === "..")
      problems.push(`bridges: ${shown(bridge)} is not a Linux interface name`);
  }
  const images = await realpathOrNull(state.images);
  // Each check reads the file system on its own: they run at once.
  const hostDisks = plan.diskFiles.filter((file) => file.hostDisk);
  const hostDiskChecks = Promise.all(
    plan.diskFiles.map((file, i) =>
      file.hostDisk ? hostDiskProblems(`diskFiles[${i}]`, file, hostDiskDirs) : [],
    ),
  );
  problems.push(
    ...plan.diskFiles.flatMap((file, i) =>
      file.hostDisk ? [] : diskFileProblems(`diskFiles[${i}]`, file, plan, state),
    ),
  );
  problems.push(...(await hostDiskChecks).flat());

  const bootFiles: string[] = [];
  problems.push(
    ...composedDomainProblems(plan.domainXml, {
      name: domainName,
      uuid,
      diskFiles: plan.diskFiles
        .filter((file) => !file.cloudInit && !file.hostDisk)
        .map((file) => file.path ?? ""),
      seedFiles: plan.diskFiles.filter((file) => file.cloudInit).map((file) => file.path ?? ""),
      hostDiskFiles: hostDisks.map((file) => file.path ?? ""),
      bootFile: (path) => {
        bootFiles.push(path);
        return true;
      },
      bridges: plan.bridges,
      consoleLog: plan.consoleLogPath,
      nvramFile: state.nvramFile(namespace, name),
      interfaces: capacity?.interfaces ?? 0,
      ...(stored.guest ? { guest: guestOf(stored.guest) } : {}),
    }).map((problem) => `domainXml: ${problem}`),
  );
  // A boot file is read through one of the plan's images' links, and is in the store once followed.
  const roots = plan.images.flatMap((ref) => imageRoot(state.images, ref));
  const inStore = await Promise.all(bootFiles.map((path) => inImageStore(path, images)));
  for (const [i, path] of bootFiles.entries()) {
    if (!roots.some((root) => path.startsWith(root)) || path.split(sep).includes(".."))
      problems.push(`domainXml: boot file ${shown(path)} is not in one of the plan's images`);
    else if (!inStore[i])
      problems.push(`domainXml: boot file ${shown(path)} is not a file in the image store`);
  }
  return problems;
}

function guestOf(guest: IGuestResources): GuestAllowance {
  return {
    memoryKiB: Number(guest.memoryKib ?? 0),
    vcpus: guest.vcpus ?? 0,
    machineType: guest.machineType ?? "",
    bootloader: guest.bootloader === "efi" ? "efi" : "bios",
    secureBoot: guest.secureBoot === true,
    smm: guest.smm === true,
  };
}

function roomProblems(plan: DomainPlan, capacity: ICapacity | null | undefined): string[] {
  const requested = capacity?.requested ?? null;
  const interfaces = capacity?.interfaces ?? 0;
  const wanted = placeholderCount(requested, interfaces);
  const problems: string[] = [];
  if (plan.placeholderCount !== wanted || wanted > MAX_PLACEHOLDERS)
    problems.push(
      `placeholderCount ${plan.placeholderCount} is not the VMI's ` +
        `(${wanted}: ${requested ?? "none"} requested, ${interfaces} interfaces)`,
    );
  const planned = plan.capacity;
  if (
    (planned?.requested ?? null) !== requested ||
    (planned?.interfaces ?? 0) !== interfaces ||
    (planned?.effective ?? 0) !== (capacity?.effective ?? 0)
  )
    problems.push("capacity is not the VMI's as the validator accepted it");
  return problems;
}

function diskFileProblems(
  field: string,
  file: IDiskFile,
  plan: DomainPlan,
  state: HostState,
): string[] {
  // Every volume's name is checked, an ephemeral one's too.
  let volumeDisk: string | undefined;
  try {
    volumeDisk = file.volume ? state.volumeDisk(file.volume.name ?? "") : undefined;
  } catch {
    return [`${field}.volume.name ${shown(file.volume?.name)} is not a DNS-1123 label`];
  }
  let expected: string;
  try {
    if (volumeDisk !== undefined && !file.volume?.ephemeral) expected = volumeDisk;
    else {
      const fileOf = file.cloudInit ? state.seedFile : state.volumeFile;
      expected = fileOf(plan.namespace, plan.name, file.volumeName ?? "");
    }
  } catch {
    return [`${field}.volumeName ${shown(file.volumeName)} is not a DNS-1123 label`];
  }
  const problems: string[] = [];
  if (file.imageDiskPath && !file.image)
    problems.push(`${field}.imageDiskPath is given for a disk that is not an image's`);
  if (file.path !== expected)
    problems.push(`${field}.path ${shown(file.path)} is not the volume's file (${expected})`);
  if (file.volume) {
    // The volume's own disk, made by `headroom volume create`; claimed at launch.
  } else if (file.cloudInit) {
    problems.push(...seedProblems(`${field}.cloudInit`, file.cloudInit, plan));
  } else if (file.image) {
    // The host resolves the image's disk in its own store; the plan only names it.
    if (!plan.images.includes(file.image))
      problems.push(`${field}.image ${shown(file.image)} is not one of the plan's images`);
    // The store keeps it inside the image; this keeps it a plain absolute path.
    const inImage = file.imageDiskPath;
    if (inImage && (inImage.length > 4096 || !IMAGE_FILE_PATH.test(inImage)))
      problems.push(`${field}.imageDiskPath ${shown(inImage)} is not an absolute path in an image`);
  } else {
    const size = Number(file.blankSizeBytes ?? 0);
    if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_BLANK_BYTES)
      problems.push(`${field}.blankSizeBytes ${shown(size)} is not between 1 byte and 1 TiB`);
  }
  return problems;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const IMAGE_FILE_PATH = /^(\/(?!\.\.?(\/|$))[^/\u0000-\u001f\u007f]+)+$/;

/** A seed says what the VMI's own would: its names, a known kind, data within bounds. */
function seedProblems(field: string, seed: ICloudInitSeed, plan: DomainPlan): string[] {
  const problems: string[] = [];
  if (
    seed.kind !== CloudInitSeed.Kind.KIND_NOCLOUD &&
    seed.kind !== CloudInitSeed.Kind.KIND_CONFIG_DRIVE
  )
    problems.push(`${field}.kind ${shown(String(seed.kind))} is not NoCloud or ConfigDrive`);
  if (seed.instanceId !== `${plan.name}.${plan.namespace}`)
    problems.push(`${field}.instanceId ${shown(seed.instanceId)} is not the VMI's`);
  // A DNS-1123 label, as the validator takes spec.hostname.
  if (!isDnsLabel(seed.hostname ?? ""))
    problems.push(`${field}.hostname ${shown(seed.hostname)} is not a DNS-1123 label`);
  for (const key of ["userData", "networkData"] as const) {
    const bytes = seed[key]?.length ?? 0;
    if (bytes > MAX_SEED_DATA_BYTES)
      problems.push(`${field}.${key} holds ${bytes} bytes, more than ${MAX_SEED_DATA_BYTES}`);
  }
  return problems;
}

/** `<images>/refs/<key>/root/`, where the files of image `ref` are reached; none for a bad ref. */
function imageRoot(images: string, ref: string): string[] {
  try {
    return [`${imageRootPath(images, ref)}${sep}`];
  } catch {
    return [];
  }
}

/** Whether `path` is, once every link is followed, a file inside the image store. */
async function inImageStore(path: string, images: string | null): Promise<boolean> {
  if (images === null || !path.startsWith("/")) return false;
  const real = await realpathOrNull(path);
  return real?.startsWith(images + sep) ?? false;
}

async function realpathOrNull(path: string): Promise<string | null> {
  try {
    return await realpath(path);
  } catch {
    return null;
  }
}
