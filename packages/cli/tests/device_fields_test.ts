// Disk, firmware and interface fields KubeVirt users write, honored and seen
// from the guest: the SMBIOS serial (firmware.serial) and chassis; a disk's
// serial (the guest reads it), block sizes (the guest sees them), cache,
// error policy, IO mode, boot order and readonly (the guest cannot write it);
// an empty SATA CD-ROM drive; IO threads (ioThreadsPolicy, dedicatedIOThread:
// QEMU runs them); defined NICs of the emulated models e1000 and rtl8139 (the
// guest sees their PCI ids), one with a boot order and an ACPI index (the
// guest sees it), one with its link down, on a multus network named
// NAMESPACE/NAME. The interface request still holds with them: NICs hot-plug
// up to the VMI's capacity (on q35, one more is refused). On q35 and on pc.
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { applyAndWait, consoleUntil, plugToCapacity } from "./run.ts";

const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  refusals: /(Publish|Subscription) Violation/,
});

describe.each(["q35", "pc"])("on %s", (machine) => {
  const name = `devices-${machine}`;

  it("gives the guest its SMBIOS serial and chassis, the disk's serial, read-only and IO thread, and the NICs' models, and keeps the room asked for", async () => {
    const vmi = await stack.seedManifest(name, { machine });
    Object.assign(vmi.spec.domain.devices.disks[0], {
      serial: "HR-ROOT-1",
      cache: "writethrough",
      bootOrder: 1,
      errorPolicy: "report",
      io: "threads",
      blockSize: { custom: { logical: 512, physical: 4096 } },
      disk: { bus: "virtio", readonly: true },
      // q35: the disk's own thread; pc: the auto pool's one.
      ...(machine === "q35" ? { dedicatedIOThread: true } : {}),
    });
    // An empty SATA CD-ROM drive (tray open): on pc, libvirt adds an AHCI
    // controller for it, which the interface request must make room around.
    vmi.spec.domain.devices.disks.push({ name: "drive", cdrom: { tray: "open" } });
    vmi.spec.volumes.push({ name: "drive", emptyDisk: { capacity: "1Mi" } });
    vmi.spec.domain.ioThreadsPolicy = machine === "q35" ? "shared" : "auto";
    vmi.spec.domain.firmware.serial = "VM-0042";
    // As KubeVirt's vmi-fedora example once wrote it: the asset as a number.
    vmi.spec.domain.chassis = {
      manufacturer: "HR-Labs",
      version: "2",
      serial: "CH-7",
      asset: 123456,
      sku: "S1",
    };
    Object.assign(vmi.spec.domain.devices.interfaces[0], {
      model: "e1000",
      bootOrder: 2,
      acpiIndex: 7,
    });
    Object.assign(vmi.spec.domain.devices.interfaces[1], { model: "rtl8139", state: "down" });
    // KubeVirt's NAMESPACE/NAME form of a multus network; headroom finds it by NAME.
    vmi.spec.networks[1].multus.networkName = `${namespace}/headroom-bridge`;
    const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);

    const stdout = await consoleUntil(
      cli,
      name,
      "headroom-guest: nic-acpi-index ",
      "headroom-guest: nics=",
    );
    expect(stdout).toMatch(/^headroom-guest: disks vda=50331648:HR-ROOT-1$/m);
    expect(stdout).toMatch(/^headroom-guest: read-only vda$/m);
    expect(stdout).toMatch(/^headroom-guest: block-sizes vda=512\/4096$/m);
    // The e1000 NIC carries the VMI's ACPI index; the others none.
    expect(stdout).toMatch(/^headroom-guest: nic-acpi-index [0-9a-f:.]+=7$/m);
    expect(stdout).toMatch(/^headroom-guest: smbios serial=VM-0042$/m);
    expect(stdout).toMatch(
      /^headroom-guest: chassis vendor=HR-Labs version=2 serial=CH-7 asset=123456$/m,
    );
    const models = /^headroom-guest: nic-models (\S+)$/m.exec(stdout)?.[1] ?? "";
    expect(
      models
        .split(",")
        .map((entry) => entry.split("=")[1])
        .sort(),
    ).toEqual(["e1000", "rtl8139"]);
    const xml = await virsh("dumpxml", `${namespace}_${name}`);
    expect(xml).toContain("cache='writethrough'");
    expect(xml).toMatch(/<driver [^>]*error_policy='report'[^>]*io='threads'/);
    expect(xml).toContain("<blockio logical_block_size='512' physical_block_size='4096'/>");
    expect(xml).toMatch(
      /<boot order='2'\/>\s*<alias name='ua-net-default'\/>\s*<acpi index='7'\/>/,
    );
    expect(xml).toContain("<link state='down'/>");
    // Live, libvirt shows an empty drive with no source and no tray.
    expect(xml).toMatch(
      /<disk type='file' device='cdrom'>\s*<driver name='qemu'\/>\s*<target dev='sda' bus='sata'\/>\s*<readonly\/>/,
    );
    expect(xml).toContain("<boot order='1'/>");
    expect(xml).toContain("<iothreads>1</iothreads>");
    expect(xml).toMatch(/<driver [^>]*iothread='1'/);
    const threads = await virsh("iothreadinfo", `${namespace}_${name}`);
    expect(
      threads
        .trim()
        .split("\n")
        .filter((line) => /^\s*1\s/.test(line)),
    ).toHaveLength(1);

    // 5 asked for, 2 defined: 3 hot-plug.
    await plugToCapacity(cli, name, machine, 3);
  }, 400_000);
});

it("takes a default multus network in the pod network's place: the guest's one NIC is on the bridge", async () => {
  const name = "multus-default";
  const vmi = await stack.seedManifest(name);
  vmi.spec.domain.devices.interfaces = [{ name: "secondary", bridge: {} }];
  vmi.spec.networks = [
    { name: "secondary", multus: { networkName: "headroom-bridge", default: true } },
  ];
  const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
  expect(apply.stderr).toBe("");
  expect(apply.code).toBe(0);
  const stdout = await consoleUntil(cli, name, "headroom-guest: nics=");
  expect(stdout).toMatch(/^headroom-guest: nics=1 /m);
  const xml = await virsh("dumpxml", `${namespace}_${name}`);
  expect(xml.match(/<interface type='bridge'>/g)).toHaveLength(1);
  expect(xml).not.toContain("<interface type='network'>");
}, 200_000);
