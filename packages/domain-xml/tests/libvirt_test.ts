/**
 * The launcher's define flow against the real libvirtd (qemu:///system): the guarantee
 * free hot-plug slots ≥ requested − interfaces must hold on what libvirt really builds.
 * Domains are only defined, never started, and always undefined.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ensureLibvirtd } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addPlaceholders,
  composeDomain,
  controllersAdded,
  freeHotplugSlots,
  interfacesOf,
  pciAddressesOf,
  placeholderCount,
  protectNonNicRootPorts,
  readTopology,
  stripPlaceholders,
} from "../src/mod.ts";
import { fixtureSpec } from "./fixture_spec.ts";

const run = promisify(execFile);
const defined = new Set<string>();
let dir = "";

async function virsh(...args: string[]): Promise<string> {
  const { stdout } = await run("virsh", ["-q", "-c", "qemu:///system", ...args]);
  return stdout;
}

async function define(name: string, xml: string): Promise<string> {
  const file = join(dir, `${name}.xml`);
  await writeFile(file, xml);
  defined.add(name);
  await virsh("define", file);
  return virsh("dumpxml", "--inactive", name);
}

async function undefine(name: string): Promise<void> {
  try {
    await virsh("undefine", name);
  } catch {
    // already gone
  }
  defined.delete(name);
}

beforeAll(async () => {
  await ensureLibvirtd();
  dir = await mkdtemp(join(tmpdir(), "domain-xml-libvirt-"));
});

afterAll(async () => {
  for (const name of [...defined]) await undefine(name);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("define → read back → placeholders → define → strip → protect → define", () => {
  const interfaces = 2;
  const cases: ["q35" | "pc", number][] = [];
  for (const machine of ["q35", "pc"] as const)
    for (const requested of [0, 2, 3, 6, 17, 32, 34]) cases.push([machine, requested]);

  it.each(cases)("%s, %s interfaces requested", async (machine, requested) => {
    const name = `hrtest-dx-it-${machine}-${requested}-${process.pid}`;
    try {
      const count = placeholderCount(requested, interfaces);
      const first = await define(name, composeDomain(fixtureSpec(machine, name)));
      const withPlaceholders = await define(
        name,
        addPlaceholders(first, count, "virtio-non-transitional"),
      );
      expect(interfacesOf(withPlaceholders).filter((i) => i.placeholder)).toHaveLength(count);

      const stripped = stripPlaceholders(withPlaceholders);
      expect(stripped.removed).toBe(count);
      const final = await define(name, protectNonNicRootPorts(stripped.xml));

      const topology = readTopology(final);
      expect(topology.devices.filter((d) => d.placeholder)).toEqual([]);
      // The guarantee.
      expect(freeHotplugSlots(topology).length).toBeGreaterThanOrEqual(count);
      // The controllers the placeholders made stay; nothing that was there moved.
      expect(controllersAdded(withPlaceholders, final).total).toBe(0);
      const before = pciAddressesOf(first);
      const after = pciAddressesOf(final);
      for (const [id, address] of Object.entries(before)) expect(after[id], id).toBe(address);
      if (machine === "q35") {
        // disk, memballoon and rng cannot be unplugged by the guest
        expect(topology.controllers.filter((c) => !c.hotplug)).toHaveLength(3);
        // exactly as many free ports as placeholders (the spare port takes the first one)
        expect(freeHotplugSlots(topology)).toHaveLength(Math.max(1, count));
      }
    } finally {
      await undefine(name);
    }
  });
});
