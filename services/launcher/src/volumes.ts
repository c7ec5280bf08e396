// Volumes: named disks of this host that outlive the VMIs using them; what a
// VMI's persistentVolumeClaim or dataVolume names (headroom has no Kubernetes
// claims). Each is a folder of the host's volume store:
//   disk.qcow2   blank, or an overlay on `base`
//   base         the disk of the image it began as (a hard link, or a copy
//                across file systems), so pruning the image takes nothing away
//   volume.json  what it is; written last, so a half-made volume is no volume
//   claim.json   which VMI uses it, while one does
// Two creates of one name meet at mkdir; two VMIs claiming one volume meet at
// claim.json's O_EXCL.
import { constants } from "node:fs";
import {
  copyFile,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { decode, storeKey } from "@headroom/bus";
import { createQcow2, inspectDisk, requireSelfContained } from "@headroom/disk-format";
import { exists } from "@headroom/domain-manager";
import { domainUuidOf, isDnsLabel } from "@headroom/host-state";
import {
  type CreateVolumeRequest,
  type DeleteVolumeRequest,
  DomainPlan,
  type ICreateVolumeReply,
  type IDeleteVolumeReply,
  type IListVolumesReply,
  type IVolume,
} from "@headroom/proto";
import type { LauncherContext } from "./context.ts";

const MIN_VOLUME_BYTES = 2 ** 20;
const MAX_VOLUME_BYTES = 2 ** 40;

/** What volume.json holds. */
interface VolumeRecord {
  name: string;
  sizeBytes: number;
  image: string;
  createdUnixMs: number;
}

/** What claim.json holds: the VMI using the volume. */
interface Claim {
  namespace: string;
  name: string;
  uid: string;
}

/** A volume a plan names cannot be given to its VMI; the message says why and what to do. */
class VolumeError extends Error {}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/** The names in `dir`; none when it does not exist. */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/** Writes `value` to `path` whole or not at all. */
async function writeJson(path: string, value: unknown): Promise<void> {
  const fresh = `${path}.new`;
  await createJson(fresh, value, { exclusive: false });
  await rename(fresh, path);
}

/** Creates `path` holding `value`; `exclusive` fails (EEXIST) when it exists, else it is replaced. */
async function createJson(
  path: string,
  value: unknown,
  { exclusive }: { exclusive: boolean },
): Promise<void> {
  const flags =
    constants.O_CREAT |
    constants.O_WRONLY |
    constants.O_NOFOLLOW |
    (exclusive ? constants.O_EXCL : constants.O_TRUNC);
  const handle = await open(path, flags, 0o644);
  try {
    await handle.writeFile(`${JSON.stringify(value)}\n`);
  } finally {
    await handle.close();
  }
}

function sizeProblem(bytes: number): string | null {
  if (bytes >= MIN_VOLUME_BYTES && bytes <= MAX_VOLUME_BYTES) return null;
  return `a volume's size must be between 1Mi and 1Ti (got ${bytes} bytes)`;
}

export async function createVolume(
  ctx: LauncherContext,
  request: CreateVolumeRequest,
): Promise<ICreateVolumeReply> {
  const name = request.name;
  if (!isDnsLabel(name))
    return { error: `volume name ${JSON.stringify(name)} must be a DNS-1123 label` };
  const asked = Number(request.sizeBytes);
  if (!request.image || asked !== 0) {
    const problem = sizeProblem(asked);
    if (problem) return { error: problem };
  }
  const dir = ctx.state.volumeDir(name);
  await mkdir(ctx.state.volumesDir, { recursive: true, mode: 0o755 });
  try {
    await mkdir(dir, { mode: 0o755 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      return { error: `volume ${name} exists; delete it first (headroom delete volume ${name})` };
    throw error;
  }
  try {
    const sizeBytes = request.image
      ? await overlayOnImage(ctx, dir, request.image, asked)
      : await blank(dir, asked);
    const record: VolumeRecord = {
      name,
      sizeBytes,
      image: request.image,
      createdUnixMs: ctx.now(),
    };
    await writeJson(join(dir, "volume.json"), record);
    ctx.log.info({ volume: name, sizeBytes, image: request.image || undefined }, "volume created");
    return { created: { ...record, node: ctx.node } };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    if (error instanceof VolumeError) return { error: error.message };
    throw error;
  }
}

async function blank(dir: string, sizeBytes: number): Promise<number> {
  await createQcow2(join(dir, "disk.qcow2"), { virtualSizeBytes: sizeBytes });
  return sizeBytes;
}

/** An overlay on the image's disk, pinned beside it; at least as large as that disk. */
async function overlayOnImage(
  ctx: LauncherContext,
  dir: string,
  ref: string,
  asked: number,
): Promise<number> {
  const base = join(dir, "base");
  const release = await ctx.imageLock.shared();
  try {
    const looked = await ctx.images.lookUp([ref]).catch((error: unknown) => {
      throw new VolumeError(`image ${ref}: ${error instanceof Error ? error.message : error}`);
    });
    await ctx.images.hold(looked, () => {});
    const disk = await ctx.imageStore.diskOf(ref);
    await link(disk, base).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== "EXDEV") throw error;
      await copyFile(disk, base);
    });
  } finally {
    release();
  }
  const image = await inspectDisk(base);
  requireSelfContained(base, image);
  const sizeBytes = asked || image.virtualSizeBytes;
  if (sizeBytes < image.virtualSizeBytes)
    throw new VolumeError(
      `volume would be ${sizeBytes} bytes, smaller than image ${ref}'s disk (${image.virtualSizeBytes})`,
    );
  await createQcow2(join(dir, "disk.qcow2"), {
    virtualSizeBytes: sizeBytes,
    backing: { path: base, format: image.format },
  });
  return sizeBytes;
}

/** The VMI a claim names, when that VMI is still stored (else the claim is a leftover). */
async function liveClaim(ctx: LauncherContext, dir: string): Promise<Claim | null> {
  const claim = await readJson<Claim>(join(dir, "claim.json"));
  if (!claim) return null;
  const stored = await ctx.readStored(storeKey(claim.namespace, claim.name));
  return stored?.uid === claim.uid ? claim : null;
}

export async function listVolumes(ctx: LauncherContext): Promise<IListVolumesReply> {
  const names = (await namesIn(ctx.state.volumesDir)).filter(isDnsLabel).sort();
  const volumes = await Promise.all(names.map((name) => volumeOf(ctx, name)));
  return { volumes: volumes.filter((volume): volume is IVolume => volume !== null) };
}

async function volumeOf(ctx: LauncherContext, name: string): Promise<IVolume | null> {
  const dir = ctx.state.volumeDir(name);
  const record = await readJson<VolumeRecord>(join(dir, "volume.json"));
  if (!record) return null;
  const claim = await liveClaim(ctx, dir);
  return {
    ...record,
    usedBy: claim ? `${claim.namespace}/${claim.name}` : "",
    node: ctx.node,
  };
}

export async function deleteVolume(
  ctx: LauncherContext,
  request: DeleteVolumeRequest,
): Promise<IDeleteVolumeReply> {
  const { name } = request;
  const volume = isDnsLabel(name) ? await volumeOf(ctx, name) : null;
  if (volume === null) return { error: `volume ${name} does not exist` };
  if (volume.usedBy)
    return { error: `volume ${name} is used by vmi ${volume.usedBy}; delete that VMI first` };
  await rm(ctx.state.volumeDir(name), { recursive: true, force: true });
  ctx.log.info({ volume: name }, "volume deleted");
  return { deleted: true };
}

/**
 * Gives the volume, which exists, to the VMI, or says why not: another VMI
 * that is still stored uses it. A claim left by a VMI since deleted is taken over.
 */
async function claimVolume(ctx: LauncherContext, volume: string, vmi: Claim): Promise<void> {
  const dir = ctx.state.volumeDir(volume);
  const path = join(dir, "claim.json");
  try {
    await createJson(path, vmi, { exclusive: true });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const holder = await liveClaim(ctx, dir);
  if (holder?.uid === vmi.uid) return;
  if (holder)
    throw new VolumeError(
      `volume ${volume} is used by vmi ${holder.namespace}/${holder.name}; a volume serves one VMI at a time`,
    );
  await writeJson(path, vmi);
}

/** The claims of the VMI `uid`, given up: its volumes are free for the next VMI. */
export async function releaseVolumes(ctx: LauncherContext, uid: string): Promise<string[]> {
  const names = (await namesIn(ctx.state.volumesDir)).filter(isDnsLabel);
  const released: string[] = [];
  for (const name of names) {
    const path = join(ctx.state.volumeDir(name), "claim.json");
    const claim = await readJson<Claim>(path);
    if (claim?.uid !== uid) continue;
    await rm(path, { force: true });
    released.push(name);
  }
  return released;
}

/** What became of a plan's volumes: all claimed for its VMI, some not made yet, or one refused. */
export type VolumeClaims = { claimed: true } | { missing: string[] } | { refused: string };

/** Claims every volume the plan's disks name for its VMI, once all of them exist. */
export async function claimPlanVolumes(
  ctx: LauncherContext,
  plan: DomainPlan,
): Promise<VolumeClaims> {
  const claims = plan.diskFiles.flatMap((file) =>
    file.volume ? [{ disk: file.volumeName, volume: file.volume.name ?? "" }] : [],
  );
  const made = await Promise.all(
    claims.map(({ volume }) => exists(join(ctx.state.volumeDir(volume), "volume.json"))),
  );
  const missing = claims.filter((_, i) => !made[i]).map(({ volume }) => volume);
  if (missing.length > 0) return { missing };
  for (const { disk, volume } of claims) {
    try {
      await claimVolume(ctx, volume, plan);
    } catch (error) {
      if (error instanceof VolumeError) return { refused: `${disk}: ${error.message}` };
      throw error;
    }
  }
  return { claimed: true };
}

// Plans waiting for a volume to be made: kept on the host (the plan message
// is acknowledged), run again when the volume is created or the launcher starts.
const WAITING = ".waiting";

function waitingFile(ctx: LauncherContext, uid: string): string {
  return join(ctx.state.volumesDir, WAITING, `${domainUuidOf(uid)}.plan`);
}

/** Keeps `plan` until its volumes exist (a later generation's plan replaces it). */
export async function waitForVolumes(ctx: LauncherContext, plan: DomainPlan): Promise<void> {
  const path = waitingFile(ctx, plan.uid);
  // The store itself stays open to QEMU, which reads the volumes in it.
  await mkdir(ctx.state.volumesDir, { recursive: true, mode: 0o755 });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(`${path}.new`, DomainPlan.encode(plan).finish());
  await rename(`${path}.new`, path);
}

/** The VMI `uid` waits for no volume any more (it runs, or it is deleted). */
export async function stopWaiting(ctx: LauncherContext, uid: string): Promise<void> {
  await rm(waitingFile(ctx, uid), { force: true });
}

/** The waiting plans that name `volume` (every waiting plan when absent). */
export async function plansWaitingFor(
  ctx: LauncherContext,
  volume?: string,
): Promise<DomainPlan[]> {
  const dir = join(ctx.state.volumesDir, WAITING);
  const files = (await namesIn(dir)).filter((file) => file.endsWith(".plan"));
  const plans: DomainPlan[] = [];
  for (const file of files) {
    try {
      const plan = decode(DomainPlan, await readFile(join(dir, file)));
      if (volume === undefined || plan.diskFiles.some((disk) => disk.volume?.name === volume))
        plans.push(plan);
    } catch (error) {
      ctx.log.warn({ file, err: error }, "a waiting plan cannot be read; dropped");
      await rm(join(dir, file), { force: true });
    }
  }
  return plans;
}
