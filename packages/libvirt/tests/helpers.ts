// Shared by the tests: domain XML, cleanup of every domain a test defines, an
// event recorder, and a tiny bootable guest (kernel + busybox initramfs).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMImplementation, DOMParser, type Element, XMLSerializer } from "@xmldom/xmldom";
import { Connection, type DomainEvent, ErrorCode, isLibvirtError } from "../src/mod.ts";

export const PREFIX = "hrtest-lv-";

/** A domain name unique to this run, with the prefix these tests own. */
export function uniqueName(purpose: string): string {
  return `${PREFIX}${purpose}-${randomBytes(4).toString("hex")}`;
}

export interface GuestBoot {
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Serial console written to this file. */
  consoleLog: string;
}

export type Child = [
  tag: string,
  attributes: Record<string, string>,
  ...children: (Child | string)[],
];

/** XML from nested [tag, attributes, ...children] arrays, built through a DOM. */
export function buildXml(root: Child): string {
  const doc = new DOMImplementation().createDocument(null, root[0], null);
  const fill = (element: Element, [, attributes, ...children]: Child): void => {
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    for (const child of children) {
      if (typeof child === "string") {
        element.appendChild(doc.createTextNode(child));
      } else {
        const sub = doc.createElement(child[0]);
        fill(sub, child);
        element.appendChild(sub);
      }
    }
  };
  fill(doc.documentElement as Element, root);
  return new XMLSerializer().serializeToString(doc);
}

/**
 * A tiny q35 domain under TCG: no disk, no NIC. With `boot`, a kernel and
 * initramfs are booted directly; without, QEMU sits in its firmware.
 */
export function domainXml(name: string, boot?: GuestBoot): string {
  const os: Child = ["os", {}, ["type", { arch: "x86_64", machine: "q35" }, "hvm"]];
  const devices: Child = ["devices", {}, ["emulator", {}, "/usr/bin/qemu-system-x86_64"]];
  if (boot !== undefined) {
    os.push(
      ["kernel", {}, boot.kernel],
      ["initrd", {}, boot.initrd],
      ["cmdline", {}, boot.cmdline],
    );
    devices.push([
      "serial",
      { type: "file" },
      ["source", { path: boot.consoleLog }],
      ["target", { port: "0" }],
    ]);
  }
  return buildXml([
    "domain",
    { type: "qemu" },
    ["name", {}, name],
    ["memory", { unit: "MiB" }, boot === undefined ? "64" : "128"],
    ["vcpu", {}, "1"],
    os,
    ["features", {}, ["acpi", {}]],
    ["on_reboot", {}, "destroy"],
    devices,
  ]);
}

/** A user-mode virtio NIC, the cheapest NIC to hot-plug. */
export const USER_NIC_XML = buildXml([
  "interface",
  { type: "user" },
  ["model", { type: "virtio" }],
]);

export function parseXml(xml: string): Element {
  const root = new DOMParser().parseFromString(xml, "text/xml").documentElement;
  if (root === null) throw new Error("not XML");
  return root;
}

export function elements(root: Element, tag: string): Element[] {
  return Array.from(root.getElementsByTagName(tag));
}

/**
 * Undefines (destroying first) every domain a test defined, through a
 * connection of its own so that it works after the test closed or broke its
 * own.
 */
export class DomainJanitor {
  readonly #names = new Set<string>();

  track(name: string): string {
    this.#names.add(name);
    return name;
  }

  async cleanUp(): Promise<void> {
    if (this.#names.size === 0) return;
    const connection = await Connection.open();
    try {
      for (const name of this.#names) {
        const domain = await connection.findDomain(name);
        if (domain === undefined) continue;
        await domain.destroy().catch((error: unknown) => {
          if (!isLibvirtError(error, ErrorCode.OPERATION_INVALID)) throw error;
        });
        await domain.undefine({ nvram: true, managedSave: true }).catch((error: unknown) => {
          if (!isLibvirtError(error, ErrorCode.NO_DOMAIN)) throw error;
        });
        domain.free();
      }
      this.#names.clear();
    } finally {
      await connection.close();
    }
  }
}

/** Records events and lets a test wait for one. */
export class EventRecorder {
  readonly events: DomainEvent[] = [];
  readonly #waiters: {
    match: (event: DomainEvent) => boolean;
    resolve: (event: DomainEvent) => void;
  }[] = [];

  readonly listener = (event: DomainEvent): void => {
    this.events.push(event);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(event)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  };

  /** How many events were recorded so far; pass as `since` to wait only for later ones. */
  mark(): number {
    return this.events.length;
  }

  /** The first matching event recorded at index `since` or later (default 0), or a rejection after `timeoutMs`. */
  waitFor<E extends DomainEvent>(
    match: (event: DomainEvent) => event is E,
    what: string,
    options?: WaitOptions,
  ): Promise<E>;
  waitFor(
    match: (event: DomainEvent) => boolean,
    what: string,
    options?: WaitOptions,
  ): Promise<DomainEvent>;
  waitFor(
    match: (event: DomainEvent) => boolean,
    what: string,
    { since = 0, timeoutMs = 60_000 }: WaitOptions = {},
  ): Promise<DomainEvent> {
    const seen = this.events.slice(since).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(`no ${what} event within ${timeoutMs} ms; saw ${JSON.stringify(this.events)}`),
        );
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (event: DomainEvent) => {
          clearTimeout(timer);
          resolve(event);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

export interface WaitOptions {
  since?: number;
  timeoutMs?: number;
}

export const GUEST_READY = "hrtest-guest-ready";

const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox echo "${GUEST_READY}"
while true; do /bin/busybox sleep 3600; done
`;

/**
 * A throwaway bootable guest: Debian's cloud kernel (PCIe and ACPI hotplug
 * built in, so the guest releases unplugged devices) and an initramfs holding
 * only static busybox and an /init that prints GUEST_READY on the serial
 * console. Lives in a temporary directory QEMU can read.
 */
export function buildTinyGuest(): { boot: GuestBoot; dir: string; remove: () => void } {
  const kernels = readdirSync("/boot")
    .filter((file) => /^vmlinuz-.*-cloud-amd64$/.test(file))
    .sort();
  const kernel = kernels.at(-1);
  if (kernel === undefined)
    throw new Error("no /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64");
  if (!existsSync("/bin/busybox")) throw new Error("no /bin/busybox: install busybox-static");

  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  chmodSync(dir, 0o755); // QEMU runs as another user
  const root = join(dir, "root");
  for (const sub of ["bin", "dev", "proc", "sys"]) mkdirSync(join(root, sub), { recursive: true });
  copyFileSync("/bin/busybox", join(root, "bin/busybox"));
  writeFileSync(join(root, "init"), INIT_SCRIPT, { mode: 0o755 });
  const initrd = join(dir, "initrd.img");
  execFileSync("sh", ["-c", 'find . | cpio -o -H newc --quiet | gzip > "$1"', "sh", initrd], {
    cwd: root,
  });
  // A copy, so that libvirt relabels it rather than the file in /boot.
  const kernelCopy = join(dir, "vmlinuz");
  copyFileSync(join("/boot", kernel), kernelCopy);
  return {
    dir,
    boot: {
      kernel: kernelCopy,
      initrd,
      cmdline: "console=ttyS0 quiet panic=-1",
      consoleLog: join(dir, "console.log"),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Waits until the guest printed GUEST_READY on its console. */
export async function waitForGuest(consoleLog: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(consoleLog) && readFileSync(consoleLog, "utf8").includes(GUEST_READY)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the tiny guest did not boot within ${timeoutMs} ms`);
}
