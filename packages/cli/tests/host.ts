// What the end-to-end tests need from the host: libvirt domains of a test
// namespace (listed, and removed whatever happens), a seed VMI of their own,
// a private state directory and a bridge name nobody else uses. The whole stack
// (nats-server and the services) comes from @headroom/test-stack; what is
// shared with it (namespace, state directory, seed) is taken from there.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  seedManifest,
  privateStateDir as stackStateDir,
  uniqueNamespace,
} from "@headroom/test-stack";

const run = promisify(execFile);
const URI = "qemu:///system";

/** A namespace of these tests: "cli-" and random hex, so domains are "cli-<hex>_<name>". */
export function testNamespace(): string {
  return uniqueNamespace("cli");
}

/** A host bridge name of these tests (at most 15 characters). */
export function testBridge(): string {
  return `hrc-${randomBytes(2).toString("hex")}`;
}

/** libvirt domains (running or not) of `namespace`. */
export async function domainsOf(namespace: string): Promise<string[]> {
  const { stdout } = await run("virsh", ["-c", URI, "list", "--all", "--name"]);
  return stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((name) => name.startsWith(`${namespace}_`));
}

/** Destroys and undefines every domain of `namespace`; returns their names. */
export async function removeDomainsOf(namespace: string): Promise<string[]> {
  const names = await domainsOf(namespace).catch(() => []);
  for (const name of names) {
    await run("virsh", ["-c", URI, "destroy", name]).catch(() => {});
    await run("virsh", ["-c", URI, "undefine", name]).catch(() => {});
  }
  return names;
}

/** Runs virsh on the system connection, e.g. suspend or resume of a domain. */
export async function virsh(...args: string[]): Promise<string> {
  return (await run("virsh", ["-c", URI, ...args])).stdout;
}

export { deleteBridge } from "@headroom/test-stack";

/** A fresh state directory QEMU (running as its own user) can read. */
export function privateStateDir(): Promise<string> {
  return stackStateDir("headroom-cli-e2e-");
}

/**
 * The seed example (examples/vmi-seed.yaml) in `namespace`, under `name`, written to `dir` as
 * YAML-compatible JSON; returns its path.
 */
export async function writeSeedVmi(dir: string, namespace: string, name: string): Promise<string> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, JSON.stringify(await seedManifest(namespace, name), null, 2));
  return path;
}

export interface ProcessInfo {
  pid: number;
  ppid: number;
  command: string;
  cmdline: string;
}

/** Every process on the host, read from /proc. */
export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid ...; comm may hold spaces, so split after the last ")".
      const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      found.push({ pid: Number(entry), ppid, command, cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Processes below `pid`. */
export function descendantsOf(pid: number, all = processes()): ProcessInfo[] {
  const result: ProcessInfo[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const child of all.filter((p) => p.ppid === parent)) {
      result.push(child);
      queue.push(child.pid);
    }
  }
  return result;
}
