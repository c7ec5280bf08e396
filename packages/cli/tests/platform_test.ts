// The guest's platform as KubeVirt users set it, seen from inside the guest:
// its CPU model and features (cpu.model, cpu.features: the flags it lists), its clock (clock.utc.offsetSeconds moves the
// RTC; clock.timezone keeps the zone's local time in it; timer.hpet.present
// takes the HPET away or keeps it), its TPM (devices.tpm, swtpm), its
// devices (a watchdog, a video adapter, no memory balloon: PCI ids the guest
// lists), multi-queue disks and NICs (every NIC, hot-plugged ones too, gets
// a queue pair per vCPU). The interface request still holds: NICs
// hot-plug up to the VMI's capacity (on q35, one more is refused). On q35 and
// on pc.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { applyAndWait, consoleUntil, headroom, plugToCapacity } from "./run.ts";

const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  refusals: /(Publish|Subscription) Violation/,
});

const DAY = 24 * 3600;
// Tokyo keeps no summer time: its local time is always UTC+9.
const TOKYO = 9 * 3600;

interface Case {
  name: string;
  machine: "q35" | "pc";
  domain: Record<string, unknown>;
  /** How far ahead of UTC the guest's clock should be. */
  ahead: number;
  hpet: boolean;
  tpm: string;
  cpu: RegExp;
  /** CPU flags the guest must have, and must not. */
  flags: { has: string[]; lacks: string[] };
  /** PCI ids the guest must list, and must not. */
  pci: { has: string[]; lacks: string[] };
  /** vda's queues, and each NIC's (hot-plugged ones too). */
  queues: number;
}

const WATCHDOG = "8086:25ab";
const VIRTIO_GPU = "1af4:1050";
const STD_VGA = "1234:1111";
const BALLOONS = ["1af4:1002", "1af4:1045"];

const cases: Case[] = [
  {
    name: "platform-q35",
    machine: "q35",
    domain: {
      // Nehalem has popcnt and lacks aes (Westmere added it).
      cpu: {
        model: "Nehalem",
        cores: 2,
        features: [{ name: "aes" }, { name: "popcnt", policy: "disable" }],
      },
      clock: { utc: { offsetSeconds: DAY }, timer: { hpet: { present: false } } },
      devices: {
        tpm: {},
        autoattachMemBalloon: false,
        blockMultiQueue: true,
        networkInterfaceMultiqueue: true,
        video: { type: "virtio" },
        watchdog: { name: "wd", i6300esb: { action: "poweroff" } },
      },
    },
    ahead: DAY,
    hpet: false,
    tpm: "2",
    cpu: /Nehalem/,
    flags: { has: ["aes", "sse4_2"], lacks: ["popcnt"] },
    pci: { has: [WATCHDOG, VIRTIO_GPU], lacks: [...BALLOONS, STD_VGA] },
    queues: 2,
  },
  {
    name: "platform-pc",
    machine: "pc",
    domain: {
      clock: { timezone: "Asia/Tokyo", timer: { hpet: { present: true } } },
      devices: { video: { type: "vga" } },
    },
    ahead: TOKYO,
    hpet: true,
    tpm: "none",
    // QEMU's default model.
    cpu: /^QEMU Virtual CPU/,
    flags: { has: ["sse2"], lacks: ["aes"] },
    // libvirt's balloon is there unless the VMI says autoattachMemBalloon: false.
    pci: { has: [STD_VGA], lacks: [WATCHDOG, VIRTIO_GPU] },
    queues: 1,
  },
];

describe.concurrent("the guest's platform", () => {
  it.each(cases)(
    "$name: the CPU, clock and TPM asked for are what the guest sees, and NICs still hot-plug",
    async ({ name, machine, domain, ahead, hpet, tpm, cpu, flags, pci, queues }) => {
      const vmi = await stack.seedManifest(name, { machine });
      const { devices, ...rest } = domain as { devices?: Record<string, unknown> };
      Object.assign(vmi.spec.domain, rest);
      Object.assign(vmi.spec.domain.devices, devices ?? {});
      const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
      expect(apply.stderr).toBe("");
      expect(apply.code).toBe(0);

      const booted = await consoleUntil(
        cli,
        name,
        "headroom-guest: platform ",
        "headroom-guest: nic-models ",
      );
      const seenAt = Date.now() / 1000;
      const report =
        /^headroom-guest: platform epoch=(\d+) clocksources=(\S*) tpm=(\S+) cpu=(.*)$/m.exec(
          booted,
        );
      expect(report, booted).not.toBeNull();
      const [, epoch, clocksources, tpmSeen, cpuSeen] = report as unknown as string[];
      // The guest read its clock at boot, a few seconds before the host saw the line.
      const offset = Number(epoch) - seenAt;
      expect(offset).toBeGreaterThan(ahead - 120);
      expect(offset).toBeLessThan(ahead + 5);
      expect((clocksources ?? "").split(",").includes("hpet")).toBe(hpet);
      expect(tpmSeen).toBe(tpm);
      expect(cpuSeen).toMatch(cpu);
      const cpuFlags = (/^headroom-guest: cpu-flags (\S*)$/m.exec(booted)?.[1] ?? "").split(",");
      for (const flag of flags.has) expect(cpuFlags).toContain(flag);
      for (const flag of flags.lacks) expect(cpuFlags).not.toContain(flag);
      const ids = (/^headroom-guest: pci (\S*)$/m.exec(booted)?.[1] ?? "").split(",");
      for (const id of pci.has) expect(ids).toContain(id);
      for (const id of pci.lacks) expect(ids).not.toContain(id);
      if (name === "platform-pc") expect(ids.some((id) => BALLOONS.includes(id))).toBe(true);
      expect(booted).toMatch(new RegExp(`^headroom-guest: block-queues vda=${queues}$`, "m"));

      const xml = await virsh("dumpxml", `${namespace}_${name}`);
      const swtpmState = /<tpm /.test(xml)
        ? `/var/lib/libvirt/swtpm/${/<uuid>([^<]+)<\/uuid>/.exec(xml)?.[1]}`
        : "";

      // 5 asked for, 2 defined: 3 hot-plug.
      await plugToCapacity(cli, name, machine, 3);
      // A NIC's PCI device shows before its driver makes the interface: wait for all five.
      let nicQueues: string[] = [];
      for (let look = 0; look < 30 && nicQueues.length < 5; look++) {
        if (look > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
        const plugged = await consoleUntil(cli, name, "headroom-guest: nics=5 ");
        const last = [...plugged.matchAll(/^headroom-guest: nic-queues (\S*)$/gm)].at(-1)?.[1];
        nicQueues = last ? last.split(",") : [];
      }
      expect(nicQueues.map((entry) => entry.split("=")[1])).toEqual(Array(5).fill(String(queues)));

      const deleted = await headroom([
        ...cli,
        "delete",
        "vmi",
        name,
        "--wait",
        "--timeout",
        "120s",
      ]);
      expect(deleted.code, deleted.stderr).toBe(0);
      // libvirt removes the TPM's state with the domain.
      if (swtpmState) expect(existsSync(swtpmState)).toBe(false);
    },
    600_000,
  );
});
