// Guests that boot from their own disk, as KubeVirt users' containerDisks do:
// no kernelBoot, the tiny guest's bootable disk started by SeaBIOS or by OVMF
// (UEFI, Secure Boot on and off), with firmware.uuid, features.smm, an empty
// disk and a cloud-init seed beside it. The guest reports which firmware
// started it, whether Secure Boot was on, that its disk's bootloader loaded
// the kernel, and its SMBIOS UUID. The interface request holds with all of it:
// NICs hot-plug up to the VMI's capacity (on q35, one more is refused), and
// the defined NICs and the disks keep their PCI addresses. On q35 and on pc.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { applyAndWait, consoleUntil, headroom, plugToCapacity } from "./run.ts";

const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  refusals: /(Publish|Subscription) Violation/,
});

const UUID = "5d307ca9-b3ef-428c-8861-06e72d69f223";
const EMPTY_DISK_BYTES = 64 * 1024 * 1024;
const BOOT_DISK_BYTES = 48 * 1024 * 1024;

interface Case {
  name: string;
  machine: "q35" | "pc";
  firmware: Record<string, unknown>;
  features?: Record<string, unknown>;
  /** Secure Boot's shim and GRUB need more than the 128Mi the seed gives. */
  memory?: string;
  /** An empty disk and a cloud-init seed beside the boot disk. */
  moreDisks?: boolean;
  report: string;
}

const cases: Case[] = [
  {
    name: "efi-secure-q35",
    machine: "q35",
    firmware: { bootloader: { efi: {} }, uuid: UUID.toUpperCase() },
    features: { smm: {} },
    memory: "512Mi",
    moreDisks: true,
    report: `boot=efi secure-boot=on loader=disk uuid=${UUID}`,
  },
  {
    name: "efi-pc",
    machine: "pc",
    firmware: { bootloader: { efi: { secureBoot: false } } },
    memory: "256Mi",
    report: "boot=efi secure-boot=off loader=disk",
  },
  {
    name: "bios-serial-q35",
    machine: "q35",
    firmware: { bootloader: { bios: { useSerial: true } } },
    report: "boot=bios secure-boot=off loader=disk",
  },
  {
    name: "bios-pc",
    machine: "pc",
    firmware: {},
    moreDisks: true,
    report: "boot=bios secure-boot=off loader=disk",
  },
];

/** The PCI address of each disk in the live domain XML, by target. */
async function diskAddresses(domain: string): Promise<string[]> {
  const xml = await virsh("dumpxml", domain);
  return [...xml.matchAll(/<disk [\s\S]*?<target dev='(\w+)'[\s\S]*?<address ([^>]*)\/>/g)].map(
    (match) => `${match[1]} ${match[2]}`,
  );
}

/** The PCI addresses the guest's latest `nics=` report lists. */
function reportedNics(console: string, count: number): string[] {
  const lines = [
    ...console.matchAll(new RegExp(`^headroom-guest: nics=${count} pci=(\\S*) `, "gm")),
  ];
  return (lines.at(-1)?.[1] ?? "").split(",").filter(Boolean);
}

describe.concurrent("guests booted from their disk", () => {
  it.each(cases)(
    "$name: the firmware asked for boots the disk, and NICs still hot-plug up to the request",
    async ({ name, machine, firmware, features, memory, moreDisks, report }) => {
      const vmi = await stack.seedManifest(name, { machine });
      vmi.spec.domain.firmware = firmware;
      if (features) vmi.spec.domain.features = features;
      if (memory) vmi.spec.domain.memory.guest = memory;
      if (moreDisks) {
        // No disk entries: KubeVirt's default gives each volume a virtio disk.
        vmi.spec.volumes.push(
          { name: "scratch", emptyDisk: { capacity: "64Mi" } },
          { name: "cloudinit", cloudInitNoCloud: { userData: "#cloud-config\n" } },
        );
      }
      const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
      expect(apply.stderr).toBe("");
      expect(apply.code).toBe(0);

      const booted = await consoleUntil(
        cli,
        name,
        "headroom-guest: firmware ",
        "headroom-guest: nics=",
      );
      expect(booted).toContain(`headroom-guest: firmware ${report}`);
      if (moreDisks) {
        expect(booted).toMatch(
          new RegExp(
            `^headroom-guest: disks vda=${BOOT_DISK_BYTES},vdb=${EMPTY_DISK_BYTES},vdc=\\d+$`,
            "m",
          ),
        );
        expect(booted).toMatch(/^headroom-guest: cloud-init source=nocloud dev=vdc /m);
      } else {
        expect(booted).toMatch(new RegExp(`^headroom-guest: disks vda=${BOOT_DISK_BYTES}$`, "m"));
      }
      if (name === "bios-serial-q35") expect(booted).toContain("SeaBIOS (version");
      const defined = reportedNics(booted, 2);
      expect(defined).toHaveLength(2);

      const domain = `${namespace}_${name}`;
      const xml = await virsh("dumpxml", domain);
      if (report.includes("boot=efi")) {
        const nvram = join(stack.stateDir, "vms", namespace, name, "efi-vars.fd");
        // libvirt picked OVMF and made the variables from its template, in the VMI's directory.
        expect(xml).toMatch(new RegExp(`<nvram template='/usr/share/OVMF/[^']+'>${nvram}</nvram>`));
        const secureLoader = /<loader [^>]*secure='yes'/;
        if (report.includes("secure-boot=on")) expect(xml).toMatch(secureLoader);
        else expect(xml).not.toMatch(secureLoader);
        expect(existsSync(nvram)).toBe(true);
      }
      if (firmware.uuid) expect(xml).toContain(`<uuid>${UUID}</uuid>`);
      const disksBefore = await diskAddresses(domain);
      expect(disksBefore).toHaveLength(moreDisks ? 3 : 1);

      // 5 asked for, 2 defined: 3 hot-plug.
      await plugToCapacity(cli, name, machine, 3);
      const plugged = await consoleUntil(cli, name, "headroom-guest: nics=5 ");
      expect(reportedNics(plugged, 5)).toEqual(expect.arrayContaining(defined));
      expect(await diskAddresses(domain)).toEqual(disksBefore);

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
      expect(existsSync(join(stack.stateDir, "vms", namespace, name))).toBe(false);
    },
    600_000,
  );
});
