import { type Vmi, validateVmi } from "@headroom/vmi";
import { describe, expect, it } from "vitest";
import {
  composeDomain,
  DomainSpecError,
  domainSpecFromVmi,
  type HostPlacement,
  interfacesOf,
  placeholderCount,
} from "../src/mod.ts";
import { virtXmlValidate } from "./helpers.ts";

/** The seed design's example VMI. */
function seedDoc(): Record<string, unknown> {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: { name: "vmi-iface-request-example" },
    spec: {
      domain: {
        devices: {
          disks: [{ disk: { bus: "virtio" }, name: "containerdisk" }],
          interfaces: [
            { masquerade: {}, name: "default" },
            { bridge: {}, name: "secondary" },
          ],
        },
        resources: { requests: { "kubevirt.io/interface": 5 } },
        rng: {},
      },
      networks: [
        { name: "default", pod: {} },
        { multus: { networkName: "some-nad" }, name: "secondary" },
      ],
      volumes: [
        {
          containerDisk: {
            image: "registry:5000/kubevirt/fedora-with-test-tooling-container-disk:devel",
          },
          name: "containerdisk",
        },
      ],
    },
  };
}

function valid(doc: unknown): Vmi {
  const result = validateVmi(doc);
  if (!result.vmi) throw new Error(JSON.stringify(result.errors));
  return result.vmi;
}

const host: HostPlacement = {
  uuid: "0b6e2f7a-4c1d-4e5f-8a9b-112233445566",
  virtType: "qemu",
  volumes: {
    containerdisk: { path: "/var/lib/headroom/vms/x/containerdisk.qcow2", format: "qcow2" },
  },
  bridges: { "some-nad": "hr-some-nad" },
  serialConsoleLogPath: "/var/log/headroom/default_vmi.log",
};

function withDomain(patch: Record<string, unknown>): Record<string, unknown> {
  const doc = seedDoc();
  const spec = doc.spec as { domain: Record<string, unknown> };
  spec.domain = { ...spec.domain, ...patch };
  return doc;
}

describe("domainSpecFromVmi", () => {
  it("maps the seed example", () => {
    const spec = domainSpecFromVmi(valid(seedDoc()), host);
    expect(spec).toEqual({
      name: "default_vmi-iface-request-example",
      uuid: host.uuid,
      title: "default/vmi-iface-request-example",
      description: "VirtualMachineInstance default/vmi-iface-request-example",
      virtType: "qemu",
      machine: "q35",
      vcpus: 1,
      memoryKiB: 131072,
      disks: [
        {
          name: "containerdisk",
          bus: "virtio",
          sourceFile: "/var/lib/headroom/vms/x/containerdisk.qcow2",
          format: "qcow2",
        },
      ],
      interfaces: [
        { name: "default", kind: "pod", model: "virtio-non-transitional" },
        {
          name: "secondary",
          kind: "bridge",
          bridge: "hr-some-nad",
          model: "virtio-non-transitional",
        },
      ],
      rng: true,
      serialConsoleLogPath: "/var/log/headroom/default_vmi.log",
    });
  });

  it("gives XML libvirt's schema accepts, with NICs the launcher can find by VMI name", () => {
    const result = validateVmi(seedDoc());
    const xml = composeDomain(domainSpecFromVmi(result.vmi as Vmi, host));
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(interfacesOf(xml).map((i) => i.name)).toEqual(["default", "secondary"]);
    const capacity = result.capacity as NonNullable<typeof result.capacity>;
    expect(placeholderCount(capacity.requested, capacity.interfaces)).toBe(3);
  });

  it("gives disks their boot order, serial and cache, and NICs their emulated models", () => {
    const doc = withDomain({
      devices: {
        disks: [
          {
            disk: { bus: "virtio" },
            name: "containerdisk",
            bootOrder: 1,
            serial: "HR-ROOT-1",
            cache: "writethrough",
          },
        ],
        interfaces: [
          { masquerade: {}, name: "default", model: "e1000" },
          { bridge: {}, name: "secondary", model: "rtl8139" },
        ],
      },
    });
    const xml = composeDomain(domainSpecFromVmi(valid(doc), host));
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain('<driver name="qemu" type="qcow2" cache="writethrough"/>');
    expect(xml).toContain('<boot order="1"/>');
    expect(xml).toContain("<serial>HR-ROOT-1</serial>");
    // A boot order per device, so none for the domain (libvirt takes one or the other).
    expect(xml).not.toContain('<boot dev="hd"/>');
    expect(interfacesOf(xml).map((nic) => nic.model)).toEqual(["e1000", "rtl8139"]);
  });

  it("gives the guest its SMBIOS serial from firmware.serial", () => {
    const xml = composeDomain(
      domainSpecFromVmi(valid(withDomain({ firmware: { serial: "VM-0042" } })), host),
    );
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain('<sysinfo type="smbios">');
    expect(xml).toContain('<entry name="serial">VM-0042</entry>');
    expect(xml).toContain('<smbios mode="sysinfo"/>');
  });

  it("gives UEFI with Secure Boot and SMM, or SeaBIOS on the serial console, from the bootloader", () => {
    const nvramPath = "/var/lib/headroom/vms/default/x/efi-vars.fd";
    const efi = valid(withDomain({ firmware: { bootloader: { efi: {} } }, features: { smm: {} } }));
    const spec = domainSpecFromVmi(efi, { ...host, nvramPath });
    expect(spec).toMatchObject({ efi: { secureBoot: true, nvramPath }, smm: true });
    const xml = composeDomain(spec);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain('<os firmware="efi">');
    expect(() => domainSpecFromVmi(efi, host)).toThrow(
      "spec.domain.firmware.bootloader.efi: has no NVRAM file on the host",
    );

    const bios = valid(withDomain({ firmware: { bootloader: { bios: { useSerial: true } } } }));
    const biosXml = composeDomain(domainSpecFromVmi(bios, host));
    expect(virtXmlValidate(biosXml)).toMatch(/validates/);
    expect(biosXml).toContain('<bios useserial="yes"/>');
    expect(biosXml).not.toContain("firmware=");
  });

  it("gives the CPU model, clock, TPM and devices the VMI asks for, in XML libvirt's schema accepts", () => {
    const vmi = valid(
      withDomain({
        cpu: { model: "Nehalem", cores: 2 },
        clock: {
          timezone: "Asia/Tokyo",
          timer: { hpet: { present: false }, rtc: { tickPolicy: "catchup" } },
        },
        devices: {
          disks: [{ disk: { bus: "virtio" }, name: "containerdisk" }],
          interfaces: [
            { masquerade: {}, name: "default" },
            { bridge: {}, name: "secondary" },
          ],
          tpm: {},
          autoattachMemBalloon: false,
          blockMultiQueue: true,
          networkInterfaceMultiqueue: true,
          video: { type: "virtio" },
          watchdog: { name: "wd", i6300esb: {} },
        },
      }),
    );
    const spec = domainSpecFromVmi(vmi, host);
    expect(spec).toMatchObject({
      cpuModel: "Nehalem",
      clock: { timezone: "Asia/Tokyo" },
      tpm: true,
      memBalloon: false,
      diskQueues: 2,
      video: "virtio",
      watchdog: "reset",
    });
    // networkInterfaceMultiqueue: a queue pair per vCPU on each virtio NIC.
    expect(spec.interfaces.map((nic) => nic.queues)).toEqual([2, 2]);
    const xml = composeDomain(spec);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain('<clock offset="timezone" timezone="Asia/Tokyo">');
    expect(xml).toContain('<timer name="rtc" tickpolicy="catchup"/>');
    expect(xml.match(/<driver queues="2"\/>/g)).toHaveLength(2);
  });

  it("gives the guest the SMBIOS chassis the VMI names, numbers written out", () => {
    const spec = domainSpecFromVmi(
      valid(withDomain({ chassis: { manufacturer: "HR-Labs", asset: 123456, sku: "S1" } })),
      host,
    );
    expect(spec.chassis).toEqual({ manufacturer: "HR-Labs", asset: "123456", sku: "S1" });
    const xml = composeDomain(spec);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain('<smbios mode="sysinfo"/>');
    const chassis = /<chassis>([\s\S]*?)<\/chassis>/.exec(xml)?.[1]?.replace(/\s+/g, "");
    expect(chassis).toBe(
      '<entryname="manufacturer">HR-Labs</entry><entryname="asset">123456</entry><entryname="sku">S1</entry>',
    );
  });

  it("shares a host disk past the host's cache when the VMI says so", () => {
    const doc = withDomain({
      devices: {
        disks: [{ name: "containerdisk" }, { name: "data", shareable: true }],
        interfaces: [
          { masquerade: {}, name: "default" },
          { bridge: {}, name: "secondary" },
        ],
      },
    }) as { spec: { volumes: unknown[] } };
    doc.spec.volumes.push({ name: "data", hostDisk: { path: "/srv/d.img", type: "Disk" } });
    const volumes = { ...host.volumes, data: { path: "/srv/d.img", format: "raw" as const } };
    const spec = domainSpecFromVmi(valid(doc), { ...host, volumes });
    expect(spec.disks[1]).toMatchObject({ shareable: true, cache: "none", format: "raw" });
    const xml = composeDomain(spec);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain("<shareable/>");
  });

  it("makes CD-ROM drives of cdrom disks: read-only, on sata or scsi, empty with the tray open", () => {
    const doc = withDomain({
      devices: {
        disks: [
          { name: "containerdisk", cdrom: { bus: "scsi" } },
          { name: "data", cdrom: { tray: "open" } },
        ],
        interfaces: [
          { masquerade: {}, name: "default" },
          { bridge: {}, name: "secondary" },
        ],
      },
    }) as { spec: { volumes: unknown[] } };
    doc.spec.volumes.push({ name: "data", emptyDisk: { capacity: "1Mi" } });
    const volumes = { ...host.volumes, data: { path: "/srv/d.qcow2", format: "qcow2" as const } };
    const spec = domainSpecFromVmi(valid(doc), { ...host, volumes });
    expect(spec.disks[0]).toMatchObject({
      bus: "scsi",
      readonly: true,
      cdrom: { trayOpen: false },
    });
    expect(spec.disks[1]).toMatchObject({ bus: "sata", readonly: true, cdrom: { trayOpen: true } });
    const xml = composeDomain(spec);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    const drives = xml.match(/<disk type="file" device="cdrom">[\s\S]*?<\/disk>/g) ?? [];
    expect(drives).toHaveLength(2);
    expect(drives[0]).toContain('<target dev="sda" bus="scsi"/>');
    expect(drives[0]).toContain("<source file=");
    expect(drives[1]).toContain('<target dev="sdb" bus="sata" tray="open"/>');
    expect(drives[1]).not.toContain("<source");
    for (const drive of drives) expect(drive).toContain("<readonly/>");
  });

  it("gives disks their error policy, IO mode and block sizes, and NICs their boot order, ACPI index and link state", () => {
    const doc = withDomain({
      devices: {
        disks: [
          {
            name: "containerdisk",
            errorPolicy: "stop",
            io: "native",
            blockSize: { custom: { logical: 4096, physical: 4096 } },
          },
        ],
        interfaces: [
          { masquerade: {}, name: "default", bootOrder: 1, acpiIndex: 2 },
          { bridge: {}, name: "secondary", state: "down" },
        ],
      },
    });
    const xml = composeDomain(domainSpecFromVmi(valid(doc), host));
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toMatch(/<driver [^>]*cache="none"[^>]*error_policy="stop" io="native"\/>/);
    expect(xml).toContain('<blockio logical_block_size="4096" physical_block_size="4096"/>');
    expect(xml).toMatch(/<boot order="1"\/>\s*<acpi index="2"\/>/);
    expect(xml).toContain('<link state="down"/>');
  });

  it("gives the CPU its features: on the model named, or on host-model when none is", () => {
    const cpuOf = (cpu: object) =>
      composeDomain(domainSpecFromVmi(valid(withDomain({ cpu })), host));
    const named = cpuOf({
      model: "Nehalem",
      features: [{ name: "aes" }, { name: "popcnt", policy: "disable" }],
    });
    expect(virtXmlValidate(named)).toMatch(/validates/);
    expect(named).toMatch(
      /<cpu mode="custom" match="exact">\s*<model fallback="forbid">Nehalem<\/model>\s*<feature policy="require" name="aes"\/>\s*<feature policy="disable" name="popcnt"\/>\s*<\/cpu>/,
    );
    const unnamed = cpuOf({ features: [{ name: "x2apic", policy: "forbid" }] });
    expect(unnamed).toMatch(
      /<cpu mode="host-model">\s*<feature policy="forbid" name="x2apic"\/>\s*<\/cpu>/,
    );
    expect(cpuOf({ cores: 2 })).not.toContain("<cpu");
  });

  it("makes a disk read-only when the VMI says so, and only then", () => {
    const readonly = (disk: object) =>
      domainSpecFromVmi(
        valid(
          withDomain({
            devices: {
              disks: [{ name: "containerdisk", ...disk }],
              interfaces: [
                { masquerade: {}, name: "default" },
                { bridge: {}, name: "secondary" },
              ],
            },
          }),
        ),
        host,
      ).disks[0]?.readonly;
    expect(readonly({ disk: { bus: "virtio", readonly: true } })).toBe(true);
    expect(readonly({ disk: { bus: "virtio", readonly: false } })).toBeUndefined();
    expect(readonly({})).toBeUndefined();
  });

  it("gives queues to virtio NICs only, and none with one vCPU", () => {
    const withCores = (cores: number) =>
      domainSpecFromVmi(
        valid(
          withDomain({
            cpu: { cores },
            devices: {
              disks: [{ disk: { bus: "virtio" }, name: "containerdisk" }],
              interfaces: [
                { masquerade: {}, name: "default" },
                { bridge: {}, name: "secondary", model: "e1000e" },
              ],
              networkInterfaceMultiqueue: true,
            },
          }),
        ),
        host,
      ).interfaces.map((nic) => nic.queues);
    expect(withCores(4)).toEqual([4, undefined]);
    expect(withCores(1)).toEqual([undefined, undefined]);
  });

  it("takes the domain name from the host when given", () => {
    expect(domainSpecFromVmi(valid(seedDoc()), { ...host, domainName: "hrtest-x" }).name).toBe(
      "hrtest-x",
    );
  });

  it("multiplies cores, sockets and threads, and reads memory in KiB (rounded up)", () => {
    const vmi = valid(
      withDomain({ cpu: { cores: 2, sockets: 2, threads: 1 }, memory: { guest: "1G" } }),
    );
    const spec = domainSpecFromVmi(vmi, host);
    expect(spec.vcpus).toBe(4);
    // 10^9 bytes = 976562.5 KiB
    expect(spec.memoryKiB).toBe(976563);
    expect(domainSpecFromVmi(valid(withDomain({ memory: { guest: "1Gi" } })), host).memoryKiB).toBe(
      1048576,
    );
  });

  it("keeps the machine family and a MAC (lower case)", () => {
    const doc = withDomain({ machine: { type: "pc" } });
    const ifaces = (doc.spec as { domain: { devices: { interfaces: Record<string, unknown>[] } } })
      .domain.devices.interfaces;
    (ifaces[0] as Record<string, unknown>).macAddress = "02:AB:CD:00:00:01";
    const spec = domainSpecFromVmi(valid(doc), host);
    expect(spec.machine).toBe("pc");
    expect(spec.interfaces[0]?.mac).toBe("02:ab:cd:00:00:01");
  });

  it("boots the kernel the host resolved, with the VMI's kernel arguments", () => {
    const vmi = valid(
      withDomain({
        firmware: {
          kernelBoot: {
            kernelArgs: "console=ttyS0 quiet",
            container: {
              image: "headroom/tiny-guest",
              kernelPath: "/boot/vmlinuz",
              initrdPath: "/boot/initrd.img",
            },
          },
        },
      }),
    );
    const kernel = { kernelPath: "/store/k/vmlinuz", initrdPath: "/store/k/initrd.img" };
    expect(domainSpecFromVmi(vmi, { ...host, kernel }).kernelBoot).toEqual({
      ...kernel,
      cmdline: "console=ttyS0 quiet",
    });
    expect(() => domainSpecFromVmi(vmi, host)).toThrow(
      "spec.domain.firmware.kernelBoot.container: has no kernel resolved on the host",
    );
    expect(() =>
      domainSpecFromVmi(vmi, { ...host, kernel: { kernelPath: "/store/k/vmlinuz" } }),
    ).toThrow("kernelBoot.container.initrdPath: has no initrd resolved on the host");
  });

  it("says which host input is missing", () => {
    const vmi = valid(seedDoc());
    expect(() => domainSpecFromVmi(vmi, { ...host, volumes: {} })).toThrow(
      "spec.domain.devices.disks[0].name: volume 'containerdisk' has no host image file",
    );
    expect(() => domainSpecFromVmi(vmi, { ...host, bridges: {} })).toThrow(
      "spec.domain.devices.interfaces[1].name: multus network 'some-nad' has no host bridge",
    );
    expect(() => domainSpecFromVmi(vmi, { ...host, bridges: undefined })).toThrow(DomainSpecError);
    // An inherited property is not a host bridge.
    expect(() =>
      domainSpecFromVmi(vmi, { ...host, bridges: Object.create({ "some-nad": "evil" }) }),
    ).toThrow("has no host bridge");
  });

  it("refuses host values libvirt would reject", () => {
    const vmi = valid(seedDoc());
    expect(() => domainSpecFromVmi(vmi, { ...host, uuid: "x" })).toThrow("uuid: must be a UUID");
    expect(() => domainSpecFromVmi(vmi, { ...host, bridges: { "some-nad": "a b" } })).toThrow(
      "interfaces[1].bridge: is not a valid host interface name",
    );
  });
});

describe("IO threads", () => {
  /** Four empty disks, b on sata; `dedicated` names those with a thread of their own. */
  function withDisks(policy: string | undefined, dedicated: string[], cores = 1) {
    const doc = seedDoc() as {
      spec: { domain: Record<string, unknown> & { devices: Record<string, unknown> } } & Record<
        string,
        unknown
      >;
    };
    const names = ["a", "b", "c", "d"];
    doc.spec.domain.cpu = { cores };
    if (policy) doc.spec.domain.ioThreadsPolicy = policy;
    doc.spec.domain.devices.disks = names.map((name) => ({
      name,
      disk: { bus: name === "b" ? "sata" : "virtio" },
      ...(dedicated.includes(name) ? { dedicatedIOThread: true } : {}),
    }));
    doc.spec.volumes = names.map((name) => ({ name, emptyDisk: { capacity: "1Gi" } }));
    const volumes = Object.fromEntries(
      names.map((name) => [
        name,
        { path: `/var/lib/headroom/vms/x/${name}.qcow2`, format: "qcow2" },
      ]),
    );
    const spec = domainSpecFromVmi(valid(doc), { ...host, volumes } as HostPlacement);
    return { count: spec.ioThreads, threads: spec.disks.map((disk) => disk.ioThread), spec };
  }

  it("are none unless the VMI asks", () => {
    expect(withDisks(undefined, [])).toMatchObject({
      count: undefined,
      threads: [undefined, undefined, undefined, undefined],
    });
  });

  it("shared: one for the virtio disks, one more per dedicated disk; never a sata disk's", () => {
    const { count, threads, spec } = withDisks("shared", ["c"]);
    expect(count).toBe(2);
    expect(threads).toEqual([1, undefined, 2, 1]);
    const xml = composeDomain(spec);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
    expect(xml).toContain("<iothreads>2</iothreads>");
    expect(xml.match(/iothread="1"/g)).toHaveLength(2);
  });

  it("a dedicated disk alone means shared", () => {
    expect(withDisks(undefined, ["a"])).toMatchObject({ count: 2, threads: [2, undefined, 1, 1] });
  });

  it("auto: a pool of up to two per vCPU, taken in turn", () => {
    expect(withDisks("auto", [], 1)).toMatchObject({ count: 2, threads: [1, undefined, 2, 1] });
    expect(withDisks("auto", [], 4)).toMatchObject({ count: 3, threads: [1, undefined, 2, 3] });
    expect(withDisks("auto", ["d"], 4)).toMatchObject({ count: 3, threads: [1, undefined, 2, 3] });
  });

  it("refuses a dedicated thread for a disk that is not virtio, naming it", () => {
    const result = validateVmi({
      ...seedDoc(),
      spec: {
        ...(seedDoc().spec as object),
        domain: {
          devices: {
            disks: [{ name: "containerdisk", disk: { bus: "sata" }, dedicatedIOThread: true }],
            interfaces: [
              { masquerade: {}, name: "default" },
              { bridge: {}, name: "secondary" },
            ],
          },
        },
      },
    });
    expect(result.errors.map((error) => error.field)).toEqual([
      "spec.domain.devices.disks[0].dedicatedIOThread",
    ]);
  });
});
