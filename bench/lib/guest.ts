/**
 * The tiny guest on the real libvirtd, for benchmarks: daemons, the guest image, a connection,
 * the virtualization type that really runs guests here, a work directory QEMU can read, and
 * removal of every domain a benchmark defined — at the end, on failure and on Ctrl-C.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { chooseVirtType, ensurePodNetwork, removeDomain } from "@headroom/domain-manager";
import {
  DEFAULT_POD_SUBNET,
  type DomainSpec,
  type MachineFamily,
  parsePodSubnet,
  type VirtType,
} from "@headroom/domain-xml";
import { openImageStore, TINY_GUEST_CMDLINE, TINY_GUEST_REF } from "@headroom/images";
import { Connection } from "@headroom/libvirt";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** Every benchmark domain starts with this; nothing else on the host is ever touched. */
export const BENCH_DOMAIN_PREFIX = "hrbench-";

export interface BenchHost {
  conn: Connection;
  /** `hrbench-<benchmark>-<pid>-`: every domain of this run starts with it and is removed. */
  namePrefix: string;
  virtType: VirtType;
  /** Why that virtualization type, in plain words. */
  virtTypeReason: string;
  /** A domain shaped like the seed's VMI: the tiny guest's disk overlay, kernel boot, rng. */
  seedLikeSpec(machine: MachineFamily, nics: number): Promise<DomainSpec>;
  /** Destroys and undefines a domain this host made, and deletes its files. */
  remove(name: string): Promise<void>;
  /** Runs `cleanup` first when the host closes (at the end, on failure and on Ctrl-C). */
  onClose(cleanup: () => Promise<void>): void;
  /** Removes everything left and closes the connection. */
  close(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Domains of benchmark runs whose process is gone (killed hard, so it could not clean up). */
async function removeOrphans(conn: Connection): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await conn.listDomainNames({ active: true, inactive: true })) {
    const match = /^hrbench-[a-z-]+?-(\d+)-/.exec(name);
    if (!match || pidAlive(Number(match[1]))) continue;
    const domain = await conn.findDomain(name);
    if (domain) {
      await removeDomain(domain);
      removed.push(name);
    }
  }
  return removed;
}

export interface BenchHostOptions {
  /**
   * Use this virtualization type without the boot test (about 15 s when KVM does not run
   * guests): for benchmarks whose domains are never started.
   */
  virtType?: VirtType;
}

export async function openBenchHost(
  bench: string,
  options: BenchHostOptions = {},
): Promise<BenchHost> {
  await run("bash", [join(repoRoot, "infra/daemons.sh"), "--quiet"]);
  await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh"), "--quiet"]);
  const store = openImageStore();
  const conn = await Connection.open("qemu:///system");
  // Pod NICs join the pod network, as the launcher's do.
  await ensurePodNetwork(conn, parsePodSubnet(DEFAULT_POD_SUBNET));
  const orphans = await removeOrphans(conn);
  if (orphans.length > 0) console.error(`removed leftover domains: ${orphans.join(", ")}`);
  const choice = options.virtType
    ? { virtType: options.virtType, reason: "set by the benchmark: its domains are never started" }
    : await chooseVirtType(conn, store);
  const kernelPath = await store.resolveFile(TINY_GUEST_REF, "/boot/vmlinuz");
  const initrdPath = await store.resolveFile(TINY_GUEST_REF, "/boot/initrd.img");
  const work = await mkdtemp(join(tmpdir(), `hrbench-${bench}-`));
  // QEMU runs as libvirt-qemu and must reach the overlay disks in here.
  await chmod(work, 0o755);

  const namePrefix = `${BENCH_DOMAIN_PREFIX}${bench}-${process.pid}-`;
  const made = new Set<string>();
  const cleanups: (() => Promise<void>)[] = [];
  let counter = 0;
  let closing: Promise<void> | undefined;

  async function removeWith(c: Connection, name: string): Promise<void> {
    const domain = await c.findDomain(name);
    if (domain) await removeDomain(domain);
    made.delete(name);
    await rm(join(work, `${name}.qcow2`), { force: true });
    await rm(join(work, `${name}.console.log`), { force: true });
  }

  async function removeAll(c: Connection): Promise<void> {
    const names = new Set(made);
    // A define still in flight when this started shows up only in libvirt's list.
    for (const name of await c.listDomainNames({ active: true, inactive: true }))
      if (name.startsWith(namePrefix)) names.add(name);
    for (const name of names) await removeWith(c, name).catch(() => {});
  }

  /** A connection for clean-up: ours, or a new one when libvirtd was restarted under us. */
  async function cleanupConnection(): Promise<Connection | undefined> {
    if (!conn.closed && (await conn.isAlive().catch(() => false))) return conn;
    for (let attempt = 0; attempt < 30; attempt++) {
      try {
        return await Connection.open("qemu:///system");
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    return undefined;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      for (const cleanup of cleanups.reverse())
        await cleanup().catch((error) => console.error(`clean-up: ${error}`));
      const c = await cleanupConnection();
      if (c) {
        await removeAll(c).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 300));
        await removeAll(c).catch((error) => {
          console.error(`could not remove every ${namePrefix}* domain: ${error}`);
        });
        if (c !== conn) await c.close();
      } else {
        console.error(`libvirtd does not answer: ${namePrefix}* domains may be left`);
      }
      await conn.close().catch(() => {});
      await rm(work, { recursive: true, force: true });
    })();
    return closing;
  }

  // A second Ctrl-C (or the same signal forwarded by a parent) must not cut the clean-up short.
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    console.error(`\n${signal}: removing the benchmark's domains…`);
    close().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  return {
    conn,
    namePrefix,
    virtType: choice.virtType,
    // Results are committed: leave this machine's temporary paths out of the reason.
    virtTypeReason: choice.reason.replace(/guest console \S+?: /, "").replaceAll(tmpdir(), "<tmp>"),
    async seedLikeSpec(machine, nics) {
      counter += 1;
      const name = `${namePrefix}${counter}-${machine}`;
      made.add(name);
      const overlay = await store.createOverlay(TINY_GUEST_REF, join(work, `${name}.qcow2`));
      return {
        name,
        uuid: randomUUID(),
        title: `bench/${name}`,
        description: "headroom benchmark",
        virtType: choice.virtType,
        machine,
        vcpus: 1,
        memoryKiB: 128 * 1024,
        kernelBoot: { kernelPath, initrdPath, cmdline: TINY_GUEST_CMDLINE },
        disks: [
          { name: "containerdisk", bus: "virtio", sourceFile: overlay.path, format: "qcow2" },
        ],
        interfaces: Array.from({ length: nics }, (_, i) => ({
          name: i === 0 ? "default" : `nic${i}`,
          kind: "pod" as const,
          model: "virtio-non-transitional" as const,
        })),
        serialConsoleLogPath: join(work, `${name}.console.log`),
        rng: true,
      };
    },
    remove: (name) => removeWith(conn, name),
    onClose: (cleanup) => {
      cleanups.push(cleanup);
    },
    close,
  };
}

/** Runs `work` with a bench host, which is closed (every domain removed) however `work` ends. */
export async function withBenchHost<T>(
  bench: string,
  work: (host: BenchHost) => Promise<T>,
  options: BenchHostOptions = {},
): Promise<T> {
  const host = await openBenchHost(bench, options);
  try {
    return await work(host);
  } finally {
    // close() reports its own trouble; the benchmark's error, if any, is the one to see.
    await host.close().catch((error) => console.error(`clean-up: ${error}`));
  }
}
