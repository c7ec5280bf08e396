// Shared set-up of the tests that run the tiny guest on the real libvirtd:
// the daemons, the guest in the image store, a libvirt connection, a work
// directory QEMU can read, the pod network, and clean-up of every domain a test made.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  composeDomain,
  DEFAULT_POD_SUBNET,
  type DomainSpec,
  type MachineFamily,
  parsePodSubnet,
  type VirtType,
} from "@headroom/domain-xml";
import { openImageStore, TINY_GUEST_CMDLINE, TINY_GUEST_REF } from "@headroom/images";
import { Connection } from "@headroom/libvirt";
import { afterAll, beforeAll } from "vitest";
import { chooseVirtType, ensurePodNetwork, launchDomain, removeDomain } from "../src/mod.ts";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export interface GuestHost {
  conn: Connection;
  /** A domain shaped like the seed's VMI: one virtio disk from the image store and two NICs. */
  seedLikeSpec(machine: MachineFamily): Promise<DomainSpec>;
  launch(
    spec: DomainSpec,
    requested: number,
    options?: { start?: boolean; hostReady?: Promise<unknown> },
  ): ReturnType<typeof launchDomain>;
}

/** Registers beforeAll/afterAll hooks; domain names start with `prefix`. */
export function useGuestHost(prefix: string): GuestHost {
  const store = openImageStore();
  const launched = new Set<string>();
  let conn: Connection | undefined;
  let virtType: VirtType = "qemu";
  let work = "";
  let kernelPath = "";
  let initrdPath = "";

  beforeAll(async () => {
    await run("bash", [join(repoRoot, "infra/daemons.sh"), "--quiet"]);
    await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh"), "--quiet"]);
    conn = await Connection.open("qemu:///system");
    // The seed-like domains' NICs join the pod network, as the launcher's do.
    await ensurePodNetwork(conn, parsePodSubnet(DEFAULT_POD_SUBNET));
    virtType = (await chooseVirtType(conn, store)).virtType;
    kernelPath = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
    initrdPath = await store.resolveFile(TINY_GUEST_REF, "/boot/initrd.img");
    work = await mkdtemp(join(tmpdir(), "headroom-launch-"));
    // QEMU runs as libvirt-qemu and must reach the overlay disks in here.
    await chmod(work, 0o755);
  }, 300_000);

  afterAll(async () => {
    for (const name of launched) {
      const domain = await conn?.findDomain(name);
      if (domain) await removeDomain(domain);
    }
    await conn?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const host: GuestHost = {
    get conn(): Connection {
      if (!conn) throw new Error("the libvirt connection is opened in beforeAll");
      return conn;
    },
    async seedLikeSpec(machine) {
      const name = `${prefix}${randomUUID().slice(0, 8)}`;
      launched.add(name);
      const overlay = await store.createOverlay(TINY_GUEST_REF, join(work, `${name}.qcow2`));
      return {
        name,
        uuid: randomUUID(),
        title: `test/${name}`,
        description: "headroom launch test",
        virtType,
        machine,
        vcpus: 1,
        memoryKiB: 128 * 1024,
        kernelBoot: { kernelPath, initrdPath, cmdline: TINY_GUEST_CMDLINE },
        disks: [
          { name: "containerdisk", bus: "virtio", sourceFile: overlay.path, format: "qcow2" },
        ],
        interfaces: [
          { name: "default", kind: "pod", model: "virtio-non-transitional" },
          { name: "secondary", kind: "pod", model: "virtio-non-transitional" },
        ],
        serialConsoleLogPath: join(work, `${name}.console.log`),
        rng: true,
      };
    },
    launch(spec, requested, options = {}) {
      return launchDomain(host.conn, {
        domainName: spec.name,
        ownerUid: spec.uuid,
        baseXml: composeDomain(spec),
        placeholders: Math.max(0, requested - spec.interfaces.length),
        placeholderModel: "virtio-non-transitional",
        ...options,
      });
    },
  };
  return host;
}
