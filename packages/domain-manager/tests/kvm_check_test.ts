// The KVM check on the real libvirtd with the tiny guest: its result kept per
// boot and URI, its probe domain gone with the process that started it, and
// the leftovers of older versions removed. Boots are counted from libvirt's
// own lifecycle events, never from timing.
import { execFile, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { composeDomain } from "@headroom/domain-xml";
import { openImageStore } from "@headroom/images";
import { Connection, type DomainEvent } from "@headroom/libvirt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chooseVirtType, removeDomain, type VirtTypeChoice } from "../src/mod.ts";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const PROBE_PREFIX = "headroom-kvm-probe-";
// Short, so a host where the guest never reports under KVM (nested) is quick;
// the tests look at which path was taken, not at the answer.
const BOOT_TIMEOUT_MS = 5_000;

const store = openImageStore();
const made = new Set<string>();
const lifecycle: { name: string; event: string }[] = [];
let conn: Connection;
let stopListening: (() => Promise<void>) | undefined;
let kvmUsable = false;
let work = "";

beforeAll(async () => {
  await run("bash", [join(repoRoot, "infra/daemons.sh"), "--quiet"]);
  await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh"), "--quiet"]);
  conn = await Connection.open("qemu:///system");
  stopListening = await conn.onDomainEvent(
    (event: DomainEvent) => {
      if (event.kind === "lifecycle")
        lifecycle.push({ name: event.domain.name, event: event.event });
    },
    { kinds: ["lifecycle"] },
  );
  kvmUsable = (await conn.kvmSupport()).usable;
  work = await mkdtemp(join(tmpdir(), "headroom-virt-type-"));
}, 300_000);

afterAll(async () => {
  await stopListening?.();
  for (const name of made) {
    const domain = await conn?.findDomain(name);
    if (domain) await removeDomain(domain);
  }
  await conn?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh cache file and boot id file; `setBoot` plays a reboot. */
async function freshHost(bootId = "boot-a") {
  const dir = await mkdtemp(join(work, "host-"));
  const bootIdPath = join(dir, "boot_id");
  const cachePath = join(dir, "virt-type.json");
  const setBoot = (id: string) => writeFile(bootIdPath, `${id}\n`);
  await setBoot(bootId);
  const kept = async () => JSON.parse(await readFile(cachePath, "utf8"));
  return { dir, bootIdPath, cachePath, setBoot, kept };
}

/** A domain of our own through libvirt, to know every earlier event has arrived. */
async function flushEvents(): Promise<void> {
  const name = track(`hrtest-vt-flush-${randomBytes(4).toString("hex")}`);
  const domain = await conn.defineXml(tinyXml(name, "headroom virt type test"));
  await domain.undefine();
  domain.free();
  const deadline = Date.now() + 30_000;
  while (!lifecycle.some((entry) => entry.name === name && entry.event === "undefined")) {
    if (Date.now() > deadline) throw new Error(`no undefined event for ${name}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs the check and names the probe domains libvirt started meanwhile. */
async function probesDuring(
  check: () => Promise<VirtTypeChoice>,
): Promise<{ choice: VirtTypeChoice; probes: string[] }> {
  const since = lifecycle.length;
  const choice = await check();
  await flushEvents();
  const probes = lifecycle
    .slice(since)
    .filter((entry) => entry.name.startsWith(PROBE_PREFIX) && entry.event === "started")
    .map((entry) => entry.name);
  return { choice, probes };
}

function track(name: string): string {
  made.add(name);
  return name;
}

function tinyXml(name: string, title: string): string {
  return composeDomain({
    name,
    uuid: randomUUID(),
    title,
    description: "headroom virt type test",
    virtType: "qemu",
    machine: "q35",
    vcpus: 1,
    memoryKiB: 64 * 1024,
    disks: [],
    interfaces: [],
    rng: false,
  });
}

describe("chooseVirtType", () => {
  it("keeps the boot test's result: a second check in the same boot boots no guest", async (ctx) => {
    if (!kvmUsable) ctx.skip("KVM is not usable here, so no guest is ever booted");
    const host = await freshHost();
    const options = { env: {}, bootTimeoutMs: BOOT_TIMEOUT_MS, ...host };

    const first = await probesDuring(() => chooseVirtType(conn, store, options));
    expect(first.choice.source).toBe("probed");
    expect(first.probes).toHaveLength(1);
    expect(await host.kept()).toMatchObject({
      bootId: "boot-a",
      uri: "qemu:///system",
      virtType: first.choice.virtType,
    });

    const second = await probesDuring(() => chooseVirtType(conn, store, options));
    expect(second.choice.source).toBe("cached");
    expect(second.choice.virtType).toBe(first.choice.virtType);
    expect(second.probes).toEqual([]);
  });

  it("checks again after a reboot and through another URI", async (ctx) => {
    if (!kvmUsable) ctx.skip("KVM is not usable here, so no guest is ever booted");
    const host = await freshHost();
    const options = { env: {}, bootTimeoutMs: BOOT_TIMEOUT_MS, ...host };
    expect((await chooseVirtType(conn, store, options)).source).toBe("probed");

    await host.setBoot("boot-b");
    const rebooted = await probesDuring(() => chooseVirtType(conn, store, options));
    expect(rebooted.choice.source).toBe("probed");
    expect(rebooted.probes).toHaveLength(1);
    expect((await host.kept()).bootId).toBe("boot-b");

    const other = await Connection.open("qemu+unix:///system");
    try {
      const elsewhere = await probesDuring(() => chooseVirtType(other, store, options));
      expect(elsewhere.choice.source).toBe("probed");
      expect(elsewhere.probes).toHaveLength(1);
      expect(await host.kept()).toMatchObject({ bootId: "boot-b", uri: "qemu+unix:///system" });
    } finally {
      await other.close();
    }
  });

  it("checks again when the kept result is corrupt, and rewrites it whole", async (ctx) => {
    if (!kvmUsable) ctx.skip("KVM is not usable here, so no guest is ever booted");
    const corrupt = [
      '{"bootId": "boot-a", "uri": "qemu:///sys',
      JSON.stringify({ bootId: "boot-a", uri: "qemu:///system", virtType: "xen" }),
    ];
    for (const text of corrupt) {
      const host = await freshHost();
      await writeFile(host.cachePath, text);
      const logged: string[] = [];
      const options = {
        env: {},
        bootTimeoutMs: BOOT_TIMEOUT_MS,
        log: (message: string, fields?: Record<string, unknown>) =>
          logged.push(`${message} ${JSON.stringify(fields)}`),
        ...host,
      };
      const checked = await probesDuring(() => chooseVirtType(conn, store, options));
      expect(checked.choice.source).toBe("probed");
      expect(checked.probes).toHaveLength(1);
      expect(logged.join("\n")).toMatch(/kept result is (not JSON|malformed)/);
      expect(await host.kept()).toMatchObject({
        bootId: "boot-a",
        virtType: checked.choice.virtType,
      });
      // Renamed into place: no temporary file left beside it.
      expect((await readdir(host.dir)).sort()).toEqual(["boot_id", "virt-type.json"]);
    }
  });

  it("checks again when the kept result is from the older check, which booted the kernel directly", async (ctx) => {
    if (!kvmUsable) ctx.skip("KVM is not usable here, so no guest is ever booted");
    const host = await freshHost();
    const older = {
      bootId: "boot-a",
      uri: "qemu:///system",
      virtType: "kvm",
      reason: "the tiny guest booted under KVM",
      checkedAt: new Date().toISOString(),
    };
    await writeFile(host.cachePath, JSON.stringify(older));
    const options = { env: {}, bootTimeoutMs: BOOT_TIMEOUT_MS, ...host };
    const checked = await probesDuring(() => chooseVirtType(conn, store, options));
    expect(checked.choice.source).toBe("probed");
    expect(checked.probes).toHaveLength(1);
    expect(await host.kept()).toMatchObject({ bootId: "boot-a", check: "disk-boot" });
  });

  it("skips the check and the kept result when HEADROOM_VIRT_TYPE says which", async () => {
    const host = await freshHost();
    const options = { env: { HEADROOM_VIRT_TYPE: "qemu" }, ...host };
    const forced = await probesDuring(() => chooseVirtType(conn, store, options));
    expect(forced.choice).toEqual({
      virtType: "qemu",
      source: "forced",
      reason: "HEADROOM_VIRT_TYPE=qemu",
    });
    expect(forced.probes).toEqual([]);
    expect(existsSync(host.cachePath)).toBe(false);
  });

  it("removes persistent probe domains left by older versions, and nothing else", async () => {
    const hex = () => randomBytes(4).toString("hex");
    const leftover = track(`${PROBE_PREFIX}${hex()}`);
    const otherTitle = track(`${PROBE_PREFIX}${hex()}`);
    const otherName = track(`hrtest-vt-${hex()}`);
    const started = await conn.defineXml(tinyXml(leftover, "headroom KVM check"));
    await started.create({ paused: true });
    await conn.defineXml(tinyXml(otherTitle, "someone else's"));
    await conn.defineXml(tinyXml(otherName, "headroom KVM check"));

    const logged: Record<string, unknown>[] = [];
    await chooseVirtType(conn, store, {
      env: { HEADROOM_VIRT_TYPE: "qemu" },
      log: (message, fields) => logged.push({ message, ...fields }),
    });
    const names = await conn.listDomainNames();
    expect(names).not.toContain(leftover);
    expect(names).toEqual(expect.arrayContaining([otherTitle, otherName]));
    expect(logged).toContainEqual({
      message: "removed a KVM check domain left by an older launcher",
      domain: leftover,
    });
    const mentioned = logged.map((line) => line.domain);
    expect(mentioned).not.toContain(otherTitle);
    expect(mentioned).not.toContain(otherName);
  });

  it("leaves no probe domain behind when killed in the middle of the check", async (ctx) => {
    if (!kvmUsable) ctx.skip("KVM is not usable here, so no guest is ever booted");
    const host = await freshHost();
    const script = fileURLToPath(new URL("./fixtures/kvm_check_process.ts", import.meta.url));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", script, host.cachePath, host.bootIdPath],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const exited = new Promise((resolve) => child.on("exit", resolve));
    let output = "";
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const probe = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no probe started: ${output}`)), 60_000);
        child.stdout.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const started = output
            .split("\n")
            .slice(0, -1) // the last line may be incomplete
            .filter((line) => line.startsWith("{"))
            .map((line) => JSON.parse(line) as { message: string; domain?: string })
            .find((line) => line.message.startsWith("tiny guest started under KVM"));
          if (started?.domain) {
            clearTimeout(timer);
            resolve(started.domain);
          }
        });
      });
      track(probe);
      // Stopped, it cannot finish the check and destroy the guest itself.
      child.kill("SIGSTOP");
      expect(await conn.listDomainNames({ active: true })).toContain(probe);

      child.kill("SIGKILL");
      await exited;
      const listed = async () => (await conn.listDomainNames()).includes(probe);
      const deadline = Date.now() + 20_000;
      while ((await listed()) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await listed()).toBe(false);
      expect(existsSync(host.cachePath)).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
