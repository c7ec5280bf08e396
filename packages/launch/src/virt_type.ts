import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { composeDomain, type VirtType } from "@headroom/domain-xml";
import {
  type ImageStore,
  TINY_GUEST_CMDLINE,
  TINY_GUEST_REF,
  waitForGuestReport,
} from "@headroom/images";
import type { Connection } from "@headroom/libvirt";
import { removeDomain } from "./launch.ts";

export interface VirtTypeChoice {
  virtType: VirtType;
  /** In plain words, why. */
  reason: string;
}

/**
 * Picks KVM when it really runs guests, TCG otherwise. `/dev/kvm` can exist
 * and QEMU can even start under it while the guest never gets anywhere (seen
 * on nested hosts), so when the tiny guest is in the image store the check is
 * to boot it under KVM and wait for its first report. `HEADROOM_VIRT_TYPE`
 * (kvm or qemu) overrides the check.
 */
export async function chooseVirtType(
  conn: Connection,
  store: ImageStore,
  env: NodeJS.ProcessEnv = process.env,
  bootTimeoutMs = 15_000,
): Promise<VirtTypeChoice> {
  const forced = env.HEADROOM_VIRT_TYPE;
  if (forced === "kvm" || forced === "qemu")
    return { virtType: forced, reason: `HEADROOM_VIRT_TYPE=${forced}` };
  if (forced !== undefined && forced !== "" && forced !== "auto")
    throw new Error(`HEADROOM_VIRT_TYPE must be kvm, qemu or auto, not "${forced}"`);

  const support = await conn.kvmSupport();
  if (!support.usable) return { virtType: "qemu", reason: `KVM is not usable: ${support.reason}` };
  let kernelPath: string;
  let initrdPath: string;
  try {
    kernelPath = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
    initrdPath = await store.resolveFile(TINY_GUEST_REF, "/boot/initrd.img");
  } catch {
    return { virtType: "kvm", reason: "KVM starts a domain (no tiny guest to boot-test it)" };
  }
  const work = await mkdtemp(join(tmpdir(), "headroom-kvm-probe-"));
  await chmod(work, 0o755);
  const consolePath = join(work, "console.log");
  const xml = composeDomain({
    name: `headroom-kvm-probe-${randomUUID().slice(0, 8)}`,
    uuid: randomUUID(),
    title: "headroom KVM check",
    description: "Boots the tiny guest under KVM to see whether KVM really runs guests.",
    virtType: "kvm",
    machine: "q35",
    vcpus: 1,
    memoryKiB: 128 * 1024,
    kernelBoot: { kernelPath, initrdPath, cmdline: TINY_GUEST_CMDLINE },
    disks: [],
    interfaces: [],
    serialConsoleLogPath: consolePath,
    rng: false,
  });
  const domain = await conn.defineXml(xml);
  try {
    await domain.create();
    await waitForGuestReport(consolePath, () => true, { timeoutMs: bootTimeoutMs });
    return { virtType: "kvm", reason: "the tiny guest booted under KVM" };
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return { virtType: "qemu", reason: `KVM does not run guests here (${why})` };
  } finally {
    await removeDomain(domain).catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}
