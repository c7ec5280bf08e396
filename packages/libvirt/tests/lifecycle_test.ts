import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Connection, ErrorCode, isLibvirtError, type LifecycleEvent } from "../src/mod.ts";
import { DomainJanitor, domainXml, EventRecorder, uniqueName } from "./helpers.ts";

const run = promisify(execFile);
const janitor = new DomainJanitor();
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.open();
});

afterAll(async () => {
  await janitor.cleanUp();
  await connection?.close();
});

describe("domain lifecycle", () => {
  it("delivers defined, started, stopped, undefined in order, with details", async () => {
    const name = janitor.track(uniqueName("lifecycle"));
    const recorder = new EventRecorder();
    // Not filtered by domain (it does not exist yet): other domains' events are
    // filtered out here by name.
    const unsubscribe = await connection.onDomainEvent(
      (event) => {
        if (event.domain.name === name) recorder.listener(event);
      },
      { kinds: ["lifecycle"] },
    );
    try {
      const domain = await connection.defineXml(domainXml(name));
      await domain.create({ paused: true });
      expect(await domain.getState()).toMatchObject({ state: "paused", reason: "user" });
      expect(await domain.isActive()).toBe(true);
      expect(await domain.isPersistent()).toBe(true);
      expect(await domain.getId()).toBeGreaterThan(0);
      const info = await domain.getInfo();
      expect(info).toMatchObject({ state: "paused", maxMemoryKiB: 65536, vcpus: 1 });

      await domain.resume();
      // Only a request: the firmware ignores the ACPI power button.
      await domain.shutdown();
      await domain.suspend();
      await domain.destroy();
      expect(await domain.getState()).toMatchObject({ state: "shutoff", reason: "destroyed" });
      expect(await domain.getId()).toBeNull();
      await domain.undefine();

      const isUndefined = (event: { kind: string }): event is LifecycleEvent =>
        event.kind === "lifecycle" && (event as LifecycleEvent).event === "undefined";
      await recorder.waitFor(isUndefined, "undefined", { timeoutMs: 10_000 });
      // QEMU may also report "shutdown:host" as it receives destroy's signal.
      const seen = recorder.events
        .map((event) => {
          const lifecycle = event as LifecycleEvent;
          return `${lifecycle.event}:${lifecycle.detail}`;
        })
        .filter((entry) => entry !== "shutdown:host");
      expect(seen).toEqual([
        "defined:added",
        "started:booted",
        "suspended:paused",
        "resumed:unpaused",
        "suspended:paused",
        "stopped:destroyed",
        "undefined:removed",
      ]);
      expect(recorder.events.every((event) => event.domain.uuid === domain.uuid)).toBe(true);
    } finally {
      await unsubscribe();
      await janitor.cleanUp();
    }
  });

  it("finds domains by name, UUID and in lists, and reads their XML", async () => {
    const name = janitor.track(uniqueName("lookup"));
    const defined = await connection.defineXml(domainXml(name), { validate: true });
    try {
      const byName = await connection.lookupByName(name);
      const byUuid = await connection.lookupByUuid(defined.uuid);
      expect(byName.uuid).toBe(defined.uuid);
      expect(byUuid.name).toBe(name);
      expect(await connection.findDomain(uniqueName("absent"))).toBeUndefined();

      expect(await connection.listDomainNames({ inactive: true })).toContain(name);
      expect(await connection.listDomainNames({ active: true })).not.toContain(name);
      const all = await connection.listDomains();
      expect(all.map((domain) => domain.uuid)).toContain(defined.uuid);
      for (const domain of all) domain.free();

      const xml = await defined.getXmlDesc({ inactive: true });
      expect(xml).toContain(`<name>${name}</name>`);
      expect(xml).toContain("pcie-root-port");
      await expect(defined.getXmlDesc({ inactive: true, live: true })).rejects.toThrow(TypeError);
      // Redefining the read-back XML keeps the same domain.
      const redefined = await connection.defineXml(xml);
      expect(redefined.uuid).toBe(defined.uuid);
    } finally {
      await janitor.cleanUp();
    }
  });

  it("destroys an autodestroy domain when the connection that created it closes", async () => {
    const name = janitor.track(uniqueName("autodestroy"));
    const creator = await Connection.open();
    try {
      const domain = await creator.createXml(domainXml(name), { paused: true, autodestroy: true });
      expect(await domain.isActive()).toBe(true);
      expect(await domain.isPersistent()).toBe(false);
      expect(await connection.listDomainNames({ active: true })).toContain(name);
    } finally {
      await creator.close();
    }
    // libvirtd reaps it as it notices the client went away.
    const listed = async () => (await connection.listDomainNames()).includes(name);
    const deadline = Date.now() + 20_000;
    while ((await listed()) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await listed()).toBe(false);
  });

  it("reports host and domain capabilities and whether KVM can be used", async () => {
    expect(await connection.getLibVersion()).toBeGreaterThanOrEqual(9_000_000);
    expect(await connection.getVersion()).toBeGreaterThan(0);
    expect(await connection.getHostname()).not.toBe("");
    // The host Node runs on: its CPUs, and memory no more than the kernel has
    // (libvirt counts NUMA cells, which may hold less than /proc/meminfo says).
    const node = await connection.getNodeInfo();
    expect(node.model).toBe("x86_64");
    expect(node.cpus).toBe(availableParallelism());
    expect(node.memoryKiB).toBeGreaterThan(64 * 1024);
    expect(node.memoryKiB * 1024).toBeLessThanOrEqual(totalmem());
    expect(node.freeMemoryBytes).toBeGreaterThan(0);
    expect(node.freeMemoryBytes).toBeLessThanOrEqual(totalmem());
    expect(await connection.getCapabilities()).toMatch(/<capabilities>[\s\S]*<domain type='qemu'/);
    const tcg = await connection.getDomainCapabilities({ virttype: "qemu", machine: "q35" });
    expect(tcg).toMatch(/<domain>qemu<\/domain>/);
    expect(tcg).toMatch(/<machine>pc-q35-/);

    const fromCapabilities = await connection.kvmSupport();
    expect(fromCapabilities.checkedBy).toBe("capabilities");
    const probed = await connection.kvmSupport({
      probeName: janitor.track(uniqueName("kvm-probe")),
    });
    // Either answer is right on some host; a probe answer is definitive.
    expect(probed.checkedBy).toBe(fromCapabilities.usable ? "probe" : "capabilities");
    expect(typeof probed.usable).toBe("boolean");
    expect(probed.reason).not.toBe("");
    expect(await connection.findDomain(uniqueName("kvm-probe"))).toBeUndefined();
  });
});

describe("networks", () => {
  it("creates a transient network, whose bridge appears on the host, once, and destroys it", async () => {
    // Bridge names are at most 15 characters.
    const bridge = `hrt${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`;
    const name = `headroom-test-${bridge}`;
    const xml = `<network><name>${name}</name><bridge name="${bridge}" stp="off" delay="0"/></network>`;
    try {
      expect(await connection.createNetworkXml(xml)).toBe(name);
      expect(existsSync(`/sys/class/net/${bridge}/bridge`)).toBe(true);
      const again = await connection.createNetworkXml(xml).catch((error) => error);
      expect(isLibvirtError(again, ErrorCode.OPERATION_FAILED)).toBe(true);
      expect(again.message).toMatch(`network '${name}' already exists`);
      await connection.destroyNetwork(name);
      expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
      const gone = await connection.destroyNetwork(name).catch((error) => error);
      expect(isLibvirtError(gone, ErrorCode.NO_NETWORK)).toBe(true);
    } finally {
      await run("virsh", ["-c", "qemu:///system", "net-destroy", name]).catch(() => undefined);
    }
  });
});
