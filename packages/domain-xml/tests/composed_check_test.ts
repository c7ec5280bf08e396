// composedDomainProblems: what composeDomain writes passes; each thing a forged
// plan could slip in (a host device, a host file, a QEMU command line, another
// domain's identity) is named and refused.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ComposedAllowance,
  composeDomain,
  composedDomainProblems,
  type DomainSpec,
} from "../src/mod.ts";
import { fixtureSpec } from "./fixture_spec.ts";

function allowanceFor(spec: DomainSpec): ComposedAllowance {
  return {
    name: spec.name,
    uuid: spec.uuid,
    diskFiles: spec.disks.map((disk) => disk.sourceFile),
    bootFile: (path) => path.startsWith("/var/lib/headroom/boot/"),
    bridges: spec.interfaces.flatMap((nic) =>
      nic.kind === "bridge" && nic.bridge ? [nic.bridge] : [],
    ),
    consoleLog: spec.serialConsoleLogPath ?? "",
    interfaces: spec.interfaces.length,
  };
}

const spec = fixtureSpec("q35", "default_fixture");
const composed = composeDomain(spec);
const allowed = allowanceFor(spec);

/** The composed XML with `from` replaced by `to` (from must occur). */
function forged(from: string, to: string): string {
  expect(composed).toContain(from);
  return composed.replace(from, to);
}

describe("composedDomainProblems", () => {
  it("passes what composeDomain writes, on q35 and pc, with and without kernel boot", () => {
    for (const machine of ["q35", "pc"] as const) {
      const base = fixtureSpec(machine, "default_fixture");
      const variants: DomainSpec[] = [
        base,
        { ...base, kernelBoot: undefined, rng: false, serialConsoleLogPath: undefined },
        {
          ...base,
          disks: [
            ...base.disks,
            { name: "data", bus: "scsi", sourceFile: "/var/lib/headroom/d.qcow2", format: "qcow2" },
            {
              name: "ro",
              bus: "sata",
              sourceFile: "/var/lib/headroom/r.qcow2",
              format: "qcow2",
              readonly: true,
            },
          ],
          interfaces: [
            { name: "a", kind: "pod", model: "e1000e", mac: "52:54:00:AA:BB:CC" },
            { name: "b", kind: "bridge", bridge: "hrbr0", model: "virtio" },
          ],
        },
      ];
      for (const variant of variants)
        expect(composedDomainProblems(composeDomain(variant), allowanceFor(variant))).toEqual([]);
    }
  });

  it("takes a raw disk only as a read-only cloud-init seed, and a seed only so", () => {
    const seed = "/var/lib/headroom/vms/default/fixture/cloudinitdisk.iso";
    const withSeed: DomainSpec = {
      ...spec,
      disks: [
        ...spec.disks,
        { name: "cloudinitdisk", bus: "virtio", sourceFile: seed, format: "raw", readonly: true },
      ],
    };
    const seedAllowed = {
      ...allowanceFor(withSeed),
      diskFiles: spec.disks.map((disk) => disk.sourceFile),
      seedFiles: [seed],
    };
    const xml = composeDomain(withSeed);
    expect(composedDomainProblems(xml, seedAllowed)).toEqual([]);
    // Writable, the guest could put a qcow2 header naming any host file in it.
    const writable = xml.replace(/(cloudinitdisk\.iso"\/>[\s\S]*?)<readonly\/>/, "$1");
    expect(writable).not.toBe(xml);
    expect(composedDomainProblems(writable, seedAllowed)).toEqual([
      `domain/devices/disk: "${seed}" as raw; only a cloud-init seed (read-only) and a host disk are raw, and they are never anything else`,
    ]);
    // A VMI's qcow2 disk read as raw, and the seed read as qcow2.
    const first = spec.disks[0]?.sourceFile ?? "";
    const rawDisk = composeDomain({
      ...spec,
      disks: spec.disks.map((disk) => ({ ...disk, format: "raw" as const })),
    });
    expect(composedDomainProblems(rawDisk, allowed)).toContain(
      `domain/devices/disk: "${first}" as raw; only a cloud-init seed (read-only) and a host disk are raw, and they are never anything else`,
    );
    const seedAsQcow2 = xml.replace(
      new RegExp(`type="raw"/>(\\s*)<source file="${seed}"`),
      `type="qcow2"/>$1<source file="${seed}"`,
    );
    expect(seedAsQcow2).not.toBe(xml);
    expect(composedDomainProblems(seedAsQcow2, seedAllowed)).toEqual([
      `domain/devices/disk: "${seed}" as qcow2, read-only; only a cloud-init seed (read-only) and a host disk are raw, and they are never anything else`,
    ]);
  });

  it("takes a host disk as raw and writable, and only as raw", () => {
    const hostDisk = "/srv/disks/data.img";
    const withHostDisk: DomainSpec = {
      ...spec,
      disks: [...spec.disks, { name: "data", bus: "virtio", sourceFile: hostDisk, format: "raw" }],
    };
    const hostAllowed = {
      ...allowanceFor(withHostDisk),
      diskFiles: spec.disks.map((disk) => disk.sourceFile),
      hostDiskFiles: [hostDisk],
    };
    const xml = composeDomain(withHostDisk);
    expect(composedDomainProblems(xml, hostAllowed)).toEqual([]);
    // Read as qcow2, its guest-written header could name any host file as a backing file.
    const asQcow2 = xml.replace(
      new RegExp(`type="raw"/>(\\s*)<source file="${hostDisk}"`),
      `type="qcow2"/>$1<source file="${hostDisk}"`,
    );
    expect(asQcow2).not.toBe(xml);
    expect(composedDomainProblems(asQcow2, hostAllowed)).toEqual([
      `domain/devices/disk: "${hostDisk}" as qcow2; only a cloud-init seed (read-only) and a host disk are raw, and they are never anything else`,
    ]);
    // Not the plan's host disk: not a file the domain may name.
    expect(composedDomainProblems(xml, { ...hostAllowed, hostDiskFiles: [] }).join("\n")).toMatch(
      /source@file: "\/srv\/disks\/data.img" is not allowed/,
    );
  });

  it("passes any composed title and description, whatever their text", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (title, description) => {
        const xml = composeDomain({ ...spec, title: title.replace(/\0/g, ""), description: "" });
        const withDescription = composeDomain({
          ...spec,
          description: description.replace(/\0/g, ""),
        });
        expect(composedDomainProblems(xml, allowed)).toEqual([]);
        expect(composedDomainProblems(withDescription, allowed)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  const attacks: [string, string, RegExp][] = [
    [
      "a host block device as a disk",
      forged('<disk type="file" device="disk">', '<disk type="block" device="disk">'),
      /domain\/devices\/disk@type: "block" is not allowed/,
    ],
    [
      "a host file as a disk's source",
      forged('file="/var/lib/headroom/disks/rootdisk.qcow2"', 'file="/etc/shadow"'),
      /domain\/devices\/disk\/source@file: "\/etc\/shadow" is not allowed/,
    ],
    [
      "a source device instead of a file",
      forged('<source file="/var/lib/headroom/disks/rootdisk.qcow2"/>', '<source dev="/dev/sda"/>'),
      /domain\/devices\/disk\/source: attribute dev is not one headroom composes/,
    ],
    [
      "a host PCI device",
      forged(
        "<devices>",
        '<devices><hostdev mode="subsystem" type="pci"><source><address bus="0x01" slot="0x00" function="0x0"/></source></hostdev>',
      ),
      /domain\/devices\/hostdev: not an element headroom composes/,
    ],
    [
      "a QEMU command line",
      forged(
        '<domain type="qemu">',
        '<domain type="qemu" xmlns:qemu="http://libvirt.org/schemas/domain/qemu/1.0"><qemu:commandline><qemu:arg value="-evil"/></qemu:commandline>',
      ),
      /attribute xmlns:qemu is not one headroom composes/,
    ],
    [
      "a shared host directory",
      forged(
        "<devices>",
        '<devices><filesystem type="mount"><source dir="/"/><target dir="root"/></filesystem>',
      ),
      /domain\/devices\/filesystem: not an element headroom composes/,
    ],
    [
      "another VMI's domain name",
      forged("<name>default_fixture</name>", "<name>prod_db</name>"),
      /domain\/name: "prod_db" is not allowed/,
    ],
    ["another UUID", forged(spec.uuid, "00000000-0000-4000-8000-000000000009"), /domain\/uuid: /],
    [
      "a kernel from outside the image store",
      forged("/var/lib/headroom/boot/vmlinuz", "/boot/vmlinuz-host"),
      /domain\/os\/kernel: "\/boot\/vmlinuz-host" is not allowed/,
    ],
    [
      "a bridge the plan does not name",
      forged('bridge="hrbr0"', 'bridge="br-prod"'),
      /domain\/devices\/interface\/source@bridge: "br-prod" is not allowed/,
    ],
    [
      "a libvirt network other than the pod network",
      forged('network="headroom-pod"', 'network="default"'),
      /domain\/devices\/interface\/source@network: "default" is not allowed/,
    ],
    [
      "a network interface of another type",
      forged('<interface type="network">', '<interface type="direct">'),
      /domain\/devices\/interface@type: "direct" is not allowed/,
    ],
    [
      "a console log written elsewhere",
      forged('file="/var/log/headroom/fixture-serial.log"', 'file="/etc/cron.d/evil"'),
      /domain\/devices\/serial\/log@file: "\/etc\/cron.d\/evil" is not allowed/,
    ],
    [
      "an rng reading a host device",
      forged("/dev/urandom", "/dev/sda"),
      /domain\/devices\/rng\/backend: "\/dev\/sda" is not allowed/,
    ],
    [
      "a security label turned off",
      forged("</devices>", '</devices><seclabel type="none"/>'),
      /domain\/seclabel: not an element headroom composes/,
    ],
    [
      "a forged owner mark",
      forged(
        "<name>",
        '<metadata><owner xmlns="https://headroom.dev/xmlns/owner/v1">x</owner></metadata><name>',
      ),
      /domain\/metadata: not an element headroom composes/,
    ],
    ["a DOCTYPE", `<!DOCTYPE domain [<!ENTITY x "y">]>${composed}`, /DOCTYPE/],
    [
      "a comment",
      forged("<devices>", "<devices><!-- hidden -->"),
      /domain\/devices: holds a node of type 8/,
    ],
    [
      "text between devices",
      forged("<devices>", "<devices>stray"),
      /domain\/devices: holds text "stray"/,
    ],
    ["XML that does not parse", "<domain><name>", /not well-formed/],
    [
      // libvirt's parser honours a declared encoding; this one would read
      // "+ADw-" as text where libvirt reads "<".
      "an XML declaration naming an encoding",
      `<?xml version="1.0" encoding="UTF-7"?>${composed}`,
      /holds the processing instruction <\?xml \.\.\.\?> beside <domain>/,
    ],
    ["a comment before the domain", `<!-- x -->${composed}`, /holds a comment beside <domain>/],
    [
      "a disk read as raw",
      forged('<driver name="qemu" type="qcow2"/>', '<driver name="qemu" type="raw"/>'),
      /domain\/devices\/disk: ".*" as raw; only a cloud-init seed \(read-only\) and a host disk are raw/,
    ],
    [
      "a writable CD-ROM drive",
      forged('<disk type="file" device="disk">', '<disk type="file" device="cdrom">'),
      /domain\/devices\/disk: CD-ROM ".*" on "virtio", writable; a CD-ROM drive is read-only, on sata or scsi/,
    ],
    [
      "a qcow2 disk shared with other domains",
      forged(
        '<driver name="qemu" type="qcow2"/>',
        '<driver name="qemu" type="qcow2"/><shareable/>',
      ),
      /domain\/devices\/disk: ".*" is shareable, and only a host disk may be/,
    ],
    [
      "a domain without its name, memory or devices",
      '<domain type="kvm"><uuid>5f0c6c0b-8e11-4d7a-9d1e-000000000035</uuid></domain>',
      /domain\/name: missing[\s\S]*domain\/memory: missing[\s\S]*domain\/devices: missing/,
    ],
    [
      "a second devices element",
      forged("</devices>", "</devices><devices/>"),
      /domain\/devices: there 2 times; headroom composes it once/,
    ],
    [
      "an element name that is a wall of text",
      forged("<devices>", `<devices><${"x".repeat(300_000)}/>`),
      /domain\/devices\/"x{80}…": not an element/,
    ],
    [
      "an interface the VMI does not declare",
      forged("<devices>", '<devices><interface type="user"><model type="virtio"/></interface>'),
      /domain\/devices: 3 interfaces where the VMI declares 2/,
    ],
  ];

  it.each(attacks)("refuses %s, naming it", (_what, xml, named) => {
    const problems = composedDomainProblems(xml, allowed);
    expect(problems.join("\n")).toMatch(named);
  });

  it("shows a hostile value escaped and cut short", () => {
    const problems = composedDomainProblems(
      forged("<name>default_fixture</name>", `<name>\u001b[31m${"x".repeat(500)}</name>`),
      allowed,
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("\\u001b[31m");
    expect((problems[0] as string).length).toBeLessThan(200);
  });
});

describe("composedDomainProblems on firmware", () => {
  const nvram = "/var/lib/headroom/vms/default/fixture/efi-vars.fd";
  const guest = { memoryKiB: spec.memoryKiB, vcpus: spec.vcpus, machineType: "q35" };
  const secure: DomainSpec = {
    ...spec,
    kernelBoot: undefined,
    efi: { secureBoot: true, nvramPath: nvram },
    smm: true,
  };
  const secureXml = composeDomain(secure);
  const secureAllowed: ComposedAllowance = {
    ...allowanceFor(secure),
    nvramFile: nvram,
    guest: { ...guest, bootloader: "efi", secureBoot: true, smm: true },
  };

  it("passes UEFI with and without Secure Boot, and SeaBIOS on the serial console", () => {
    expect(secureXml).toContain('<os firmware="efi">');
    expect(secureXml).toContain('<feature enabled="yes" name="secure-boot"/>');
    expect(secureXml).toContain(`<nvram>${nvram}</nvram>`);
    expect(secureXml).toContain('<smm state="on"/>');
    expect(composedDomainProblems(secureXml, secureAllowed)).toEqual([]);

    const plain: DomainSpec = {
      ...spec,
      machine: "pc",
      efi: { secureBoot: false, nvramPath: nvram },
    };
    expect(
      composedDomainProblems(composeDomain(plain), {
        ...allowanceFor(plain),
        nvramFile: nvram,
        guest: { ...guest, machineType: "pc", bootloader: "efi", secureBoot: false, smm: false },
      }),
    ).toEqual([]);

    const bios: DomainSpec = { ...spec, biosSerial: true };
    const biosXml = composeDomain(bios);
    expect(biosXml).toContain('<bios useserial="yes"/>');
    expect(composedDomainProblems(biosXml, { ...allowanceFor(bios), guest })).toEqual([]);
  });

  it.each([
    [
      "UEFI for a BIOS VMI",
      secureXml,
      { ...secureAllowed, guest },
      /domain\/os: efi where the VMI has bios/,
    ],
    [
      "Secure Boot turned off",
      secureXml.replaceAll('enabled="yes"', 'enabled="no"'),
      secureAllowed,
      /domain\/os\/firmware: "enrolled-keys=no,secure-boot=no" where the VMI has Secure Boot on/,
    ],
    [
      "one of the two firmware features left out",
      secureXml.replace('<feature enabled="yes" name="enrolled-keys"/>', ""),
      secureAllowed,
      /domain\/os\/firmware: "secure-boot=yes" where the VMI has Secure Boot on/,
    ],
    [
      "the variables kept in a host file",
      secureXml.replace(nvram, "/etc/shadow"),
      secureAllowed,
      /domain\/os\/nvram: "\/etc\/shadow" is not allowed/,
    ],
    [
      "no NVRAM file",
      secureXml.replace(`<nvram>${nvram}</nvram>`, ""),
      secureAllowed,
      /domain\/os\/nvram: missing/,
    ],
    [
      "SMM turned off",
      secureXml.replace('<smm state="on"/>', ""),
      secureAllowed,
      /domain\/features\/smm: off where the VMI has it on/,
    ],
    [
      "a firmware file of the plan's choosing",
      secureXml.replace(
        "<firmware>",
        '<loader readonly="yes" type="pflash">/tmp/evil.fd</loader><firmware>',
      ),
      secureAllowed,
      /domain\/os\/loader: not an element headroom composes/,
    ],
    [
      "NVRAM for a BIOS VMI",
      forged("</os>", `<nvram>${nvram}</nvram></os>`),
      { ...allowed, nvramFile: nvram, guest: { ...guest, memoryKiB: spec.memoryKiB } },
      /domain\/os: firmware features or NVRAM for a BIOS guest/,
    ],
  ] as const)("refuses %s, naming it", (_what, xml, allowance, named) => {
    expect(composedDomainProblems(xml, allowance).join("\n")).toMatch(named);
  });
});

describe("composedDomainProblems on devices", () => {
  const withDevices: DomainSpec = {
    ...spec,
    memBalloon: false,
    diskQueues: 2,
    interfaces: spec.interfaces.map((nic, i) => ({
      ...nic,
      queues: 2,
      ...(i === 0 ? { bootOrder: 2, acpiIndex: 5, linkDown: true } : {}),
    })),
    ioThreads: 1,
    disks: spec.disks.map((disk) =>
      disk.bus === "virtio"
        ? {
            ...disk,
            ioThread: 1,
            errorPolicy: "report" as const,
            io: "threads" as const,
            blockSize: { logical: 512, physical: 4096 },
          }
        : disk,
    ),
    cpuFeatures: [{ name: "aes", policy: "require" }],
    video: "virtio",
    watchdog: "poweroff",
    tpm: true,
    cpuModel: "Nehalem",
    clock: { utcOffsetSeconds: 3600, timers: [{ name: "hpet", present: false }] },
  };
  const xml = composeDomain(withDevices);
  const allowance = allowanceFor(withDevices);

  it("passes an empty CD-ROM drive of a seed, which reads no file", () => {
    const seedFile = "/var/lib/headroom/vms/default/vm/cloudinitdisk.iso";
    const withDrive: DomainSpec = {
      ...spec,
      disks: [
        ...spec.disks,
        {
          name: "cloudinitdisk",
          bus: "sata",
          sourceFile: seedFile,
          format: "raw",
          readonly: true,
          cdrom: { trayOpen: true },
        },
      ],
    };
    const driveXml = composeDomain(withDrive);
    expect(driveXml).toContain('tray="open"');
    const seeded = { ...allowanceFor(withDrive), seedFiles: [seedFile] };
    expect(composedDomainProblems(driveXml, seeded)).toEqual([]);
  });

  it("passes the devices composeDomain writes", () => {
    expect(xml).toContain('<watchdog model="i6300esb" action="poweroff"/>');
    expect(xml).toContain('<memballoon model="none"/>');
    expect(xml).toContain('queues="2"');
    expect(xml).toContain('<driver queues="2"/>');
    expect(xml).toContain("<iothreads>1</iothreads>");
    expect(xml).toContain('iothread="1"');
    expect(xml).toContain('<feature policy="require" name="aes"/>');
    expect(xml).toContain('<acpi index="5"/>');
    expect(xml).toContain('<link state="down"/>');
    expect(xml).toContain('<blockio logical_block_size="512" physical_block_size="4096"/>');
    expect(composedDomainProblems(xml, allowance)).toEqual([]);
  });

  it.each([
    [
      "a watchdog of another model",
      xml.replace('model="i6300esb"', 'model="ib700"'),
      /watchdog@model: "ib700"/,
    ],
    [
      "a balloon that deflates on its own",
      xml.replace('<memballoon model="none"/>', '<memballoon model="virtio" autodeflate="on"/>'),
      /memballoon@model: "virtio" is not allowed/,
    ],
    [
      "a TPM passed through from the host",
      xml.replace('type="emulator"', 'type="passthrough"'),
      /backend@type: "passthrough" is not allowed/,
    ],
    [
      "a logical block larger than the physical one",
      xml.replace('logical_block_size="512"', 'logical_block_size="8192"'),
      /logical block larger than physical/,
    ],
    [
      "a block size that is not a power of 2",
      xml.replace('physical_block_size="4096"', 'physical_block_size="3000"'),
      /blockio@physical_block_size: "3000" is not allowed/,
    ],
    [
      "native IO through the host's cache",
      xml.replace('io="threads"', 'io="native"'),
      /native IO needs cache none/,
    ],
    [
      "an open tray on a disk with a file",
      xml.replace('bus="virtio"/>', 'bus="virtio" tray="open"/>'),
      /an open tray on ".*"; only an empty CD-ROM drive has one/,
    ],
    [
      "an ACPI index past libvirt's",
      xml.replace('<acpi index="5"/>', '<acpi index="16384"/>'),
      /acpi@index: "16384" is not allowed/,
    ],
    [
      "a CPU feature named by something other than its name",
      xml.replace('name="aes"', 'name="aes&quot;/&gt;"'),
      /cpu\/feature@name/,
    ],
    [
      "a clock reset by the guest",
      xml.replace('offset="utc"', 'offset="localtime"'),
      /clock@offset: "localtime" is not allowed/,
    ],
  ])("refuses %s, naming it", (_what, forgedXml, named) => {
    expect(forgedXml).not.toBe(xml);
    expect(composedDomainProblems(forgedXml, allowance).join("\n")).toMatch(named);
  });
});
