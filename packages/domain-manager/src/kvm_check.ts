import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { composeDomain, type VirtType } from "@headroom/domain-xml";
import {
  detectDiskFormat,
  type ImageStore,
  TINY_GUEST_REF,
  waitForGuestReport,
} from "@headroom/images";
import type { Connection, Domain } from "@headroom/libvirt";
import { ensureDiskFile } from "./host.ts";
import {
  type CacheKey,
  firstLine,
  readBootId,
  readCachedCheck,
  writeCachedCheck,
} from "./kvm_check_cache.ts";
import { type LaunchLog, removeDomain } from "./launch.ts";

export interface VirtTypeChoice {
  virtType: VirtType;
  /** forced by HEADROOM_VIRT_TYPE, cached from earlier in this boot, or probed now. */
  source: "forced" | "cached" | "probed";
  /** In plain words, why. */
  reason: string;
}

export interface VirtTypeOptions {
  /** Read for HEADROOM_VIRT_TYPE; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the boot test's result is kept for this host boot; without it the test runs every time. */
  cachePath?: string;
  /** This boot's id; default /proc/sys/kernel/random/boot_id. */
  bootIdPath?: string;
  /** How long the tiny guest gets to report under KVM; default 15 s. */
  bootTimeoutMs?: number;
  log?: LaunchLog;
}

const PROBE_PREFIX = "headroom-kvm-probe-";
const PROBE_NAME = /^headroom-kvm-probe-[0-9a-f]{8}$/;
const PROBE_TITLE = "headroom KVM check";
/** The way the check boots the tiny guest, kept with its result. */
const CHECK = "disk-boot";

/** The tiny guest's bootable disk: SeaBIOS and its bootloader run in real mode, as most guests' do. */
interface TinyGuest {
  diskPath: string;
}

/**
 * Picks KVM when it really runs guests, TCG otherwise. `/dev/kvm` can exist
 * and QEMU can even start under it while the guest never gets anywhere (seen
 * on nested hosts: a guest booted by the host's kernel runs, one booted from
 * its disk by SeaBIOS stops with a KVM emulation failure), so when the tiny
 * guest is in the image store the check is to boot it from its disk under
 * KVM and wait for its first report. That takes up to
 * `bootTimeoutMs`, so its result is kept in `cachePath` for the rest of the
 * host's boot. `HEADROOM_VIRT_TYPE` (kvm or qemu) overrides the check.
 */
export async function chooseVirtType(
  conn: Connection,
  store: ImageStore,
  options: VirtTypeOptions = {},
): Promise<VirtTypeChoice> {
  const { env = process.env, bootTimeoutMs = 15_000, log = () => {} } = options;
  await removeLeftoverProbes(conn, log);
  const forced = forcedVirtType(env);
  if (forced !== undefined)
    return { virtType: forced, source: "forced", reason: `HEADROOM_VIRT_TYPE=${forced}` };

  // Cheap, so asked every time: KVM may have been switched on or off since.
  const support = await conn.kvmSupport();
  if (!support.usable)
    return { virtType: "qemu", source: "probed", reason: `KVM is not usable: ${support.reason}` };
  const guest = await tinyGuestOf(store);
  if (guest === undefined) {
    const reason = "KVM starts a domain (no tiny guest to boot-test it)";
    return { virtType: "kvm", source: "probed", reason };
  }

  const cache = await cacheOf(conn, options, log);
  if (cache !== undefined) {
    const cached = await readCachedCheck(cache.path, cache.key);
    if ("hit" in cached) {
      const reason = `${cached.hit.reason} (checked at ${cached.hit.checkedAt}, this boot)`;
      return { virtType: cached.hit.virtType, source: "cached", reason };
    }
    log("KVM check result not kept for this boot; checking", { why: cached.miss });
  }

  const { keep, ...result } = await bootTest(conn, guest, bootTimeoutMs, log);
  // A check cut short by a lost connection, or that never booted, says nothing about KVM.
  if (cache !== undefined && keep && (await stillAlive(conn))) {
    const entry = { ...cache.key, ...result, checkedAt: new Date().toISOString() };
    await writeCachedCheck(cache.path, entry).catch((error: unknown) =>
      log("could not keep the KVM check result", { path: cache.path, why: firstLine(error) }),
    );
  }
  return { ...result, source: "probed" };
}

function forcedVirtType(env: NodeJS.ProcessEnv): VirtType | undefined {
  const forced = env.HEADROOM_VIRT_TYPE;
  if (forced === "kvm" || forced === "qemu") return forced;
  if (forced !== undefined && forced !== "" && forced !== "auto")
    throw new Error(`HEADROOM_VIRT_TYPE must be kvm, qemu or auto, not "${forced}"`);
  return undefined;
}

async function tinyGuestOf(store: ImageStore): Promise<TinyGuest | undefined> {
  try {
    return { diskPath: await store.diskOf(TINY_GUEST_REF) };
  } catch {
    return undefined;
  }
}

async function cacheOf(
  conn: Connection,
  options: VirtTypeOptions,
  log: LaunchLog,
): Promise<{ path: string; key: CacheKey } | undefined> {
  if (options.cachePath === undefined) return undefined;
  try {
    const key = { bootId: await readBootId(options.bootIdPath), uri: conn.uri, check: CHECK };
    return { path: options.cachePath, key };
  } catch (error) {
    log("no boot id, so the KVM check result is not kept", { why: firstLine(error) });
    return undefined;
  }
}

async function stillAlive(conn: Connection): Promise<boolean> {
  return conn.isAlive().catch(() => false);
}

/**
 * Boots the tiny guest under KVM and waits for its first report. The domain is
 * transient and autodestroy: libvirtd destroys it when this connection closes,
 * so a launcher killed mid-check leaves nothing running.
 */
async function bootTest(
  conn: Connection,
  guest: TinyGuest,
  timeoutMs: number,
  log: LaunchLog,
): Promise<{ virtType: VirtType; reason: string; keep: boolean }> {
  const work = await mkdtemp(join(tmpdir(), PROBE_PREFIX));
  let domain: Domain | undefined;
  const consolePath = join(work, "console.log");
  // The guest may write its disk: it gets an overlay, gone with the work dir.
  const overlay = join(work, "disk.qcow2");
  try {
    // QEMU runs as another user and writes the console log in here.
    await chmod(work, 0o755);
    const backingFormat = await detectDiskFormat(guest.diskPath);
    await ensureDiskFile({ path: overlay, backingPath: guest.diskPath, backingFormat });
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    const reason = `the KVM check could not prepare its disk (${firstLine(error)})`;
    return { virtType: "qemu", reason, keep: false };
  }
  try {
    domain = await conn.createXml(probeXml(overlay, consolePath), { autodestroy: true });
    log("tiny guest started under KVM; waiting for its report", { domain: domain.name, timeoutMs });
    await waitForGuestReport(consolePath, () => true, { timeoutMs });
    return { virtType: "kvm", reason: "the tiny guest booted under KVM", keep: true };
  } catch (error) {
    const reason = `KVM does not run guests here (${firstLine(error)})`;
    return { virtType: "qemu", reason, keep: true };
  } finally {
    if (domain !== undefined) {
      await domain.destroy().catch(() => {});
      domain.free();
    }
    await rm(work, { recursive: true, force: true });
  }
}

function probeXml(disk: string, consolePath: string): string {
  return composeDomain({
    name: `${PROBE_PREFIX}${randomUUID().slice(0, 8)}`,
    uuid: randomUUID(),
    title: PROBE_TITLE,
    description: "Boots the tiny guest under KVM to see whether KVM really runs guests.",
    virtType: "kvm",
    machine: "q35",
    vcpus: 1,
    memoryKiB: 128 * 1024,
    disks: [{ name: "root", bus: "virtio", sourceFile: disk, format: "qcow2" }],
    interfaces: [],
    serialConsoleLogPath: consolePath,
    rng: false,
  });
}

/**
 * Older versions defined the probe as a persistent domain, which stayed
 * running when the launcher died mid-check. Removes those: persistent, named
 * like a probe and titled like one. Today's transient probes, maybe another
 * launcher's in progress, are left alone.
 */
async function removeLeftoverProbes(conn: Connection, log: LaunchLog): Promise<void> {
  for (const domain of await conn.listDomains()) {
    try {
      if (await isLeftoverProbe(domain)) {
        await removeDomain(domain);
        log("removed a KVM check domain left by an older launcher", { domain: domain.name });
      }
    } catch (error) {
      log("could not remove a leftover KVM check domain", {
        domain: domain.name,
        why: firstLine(error),
      });
    } finally {
      domain.free();
    }
  }
}

async function isLeftoverProbe(domain: Domain): Promise<boolean> {
  if (!PROBE_NAME.test(domain.name) || !(await domain.isPersistent())) return false;
  const xml = await domain.getXmlDesc({ inactive: true });
  return xml.includes(`<title>${PROBE_TITLE}</title>`);
}
