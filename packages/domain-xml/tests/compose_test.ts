import { describe, expect, it } from "vitest";
import {
  addPlaceholders,
  composeDomain,
  type DomainSpec,
  DomainSpecError,
  diskTargets,
  interfacesOf,
  nicXml,
} from "../src/mod.ts";
import { fixtureSpec } from "./fixture_spec.ts";
import { child, children, elementCounts, parse, virtXmlValidate } from "./helpers.ts";

function spec(overrides: Partial<DomainSpec> = {}): DomainSpec {
  return { ...fixtureSpec("q35", "default_vmi"), ...overrides };
}

describe("composeDomain", () => {
  it("builds exactly the elements the spec asks for", () => {
    expect(elementCounts(composeDomain(spec()))).toEqual({
      domain: 1,
      "domain/name": 1,
      "domain/uuid": 1,
      "domain/title": 1,
      "domain/memory": 1,
      "domain/vcpu": 1,
      "domain/os": 1,
      "domain/os/type": 1,
      "domain/os/kernel": 1,
      "domain/os/initrd": 1,
      "domain/os/cmdline": 1,
      "domain/features": 1,
      "domain/features/acpi": 1,
      "domain/features/apic": 1,
      "domain/clock": 1,
      "domain/on_poweroff": 1,
      "domain/on_reboot": 1,
      "domain/on_crash": 1,
      "domain/devices": 1,
      "domain/devices/disk": 1,
      "domain/devices/disk/driver": 1,
      "domain/devices/disk/source": 1,
      "domain/devices/disk/target": 1,
      "domain/devices/disk/alias": 1,
      "domain/devices/controller": 1,
      "domain/devices/interface": 2,
      "domain/devices/interface/source": 2,
      "domain/devices/interface/model": 2,
      "domain/devices/interface/alias": 2,
      "domain/devices/serial": 1,
      "domain/devices/serial/log": 1,
      "domain/devices/serial/target": 1,
      "domain/devices/console": 1,
      "domain/devices/console/target": 1,
      "domain/devices/rng": 1,
      "domain/devices/rng/backend": 1,
    });
  });

  it("writes the values where libvirt reads them", () => {
    const d = parse(composeDomain(spec({ virtType: "kvm", vcpus: 2, memoryKiB: 524288 })));
    expect(d.getAttribute("type")).toBe("kvm");
    expect(child(d, "name").textContent).toBe("default_vmi");
    expect(child(d, "uuid").textContent).toBe("5f0c6c0b-8e11-4d7a-9d1e-000000000035");
    expect(child(d, "title").textContent).toBe("default/fixture");
    expect(child(d, "memory").getAttribute("unit")).toBe("KiB");
    expect(child(d, "memory").textContent).toBe("524288");
    expect(child(d, "vcpu").textContent).toBe("2");
    expect(child(d, "os", "type").getAttribute("machine")).toBe("q35");
    expect(child(d, "os", "type").getAttribute("arch")).toBe("x86_64");
    expect(child(d, "os", "kernel").textContent).toBe("/var/lib/headroom/boot/vmlinuz");
    expect(child(d, "os", "initrd").textContent).toBe("/var/lib/headroom/boot/initrd.img");
    expect(child(d, "os", "cmdline").textContent).toBe("console=ttyS0");
    expect(child(d, "on_crash").textContent).toBe("destroy");
    expect(child(d, "on_poweroff").textContent).toBe("destroy");
    expect(child(d, "on_reboot").textContent).toBe("restart");
    const serial = child(d, "devices", "serial");
    expect(serial.getAttribute("type")).toBe("pty");
    expect(child(serial, "log").getAttribute("file")).toBe("/var/log/headroom/fixture-serial.log");
    expect(child(serial, "log").getAttribute("append")).toBe("on");
    expect(child(d, "devices", "rng").getAttribute("model")).toBe("virtio");
    expect(child(d, "devices", "rng", "backend").textContent).toBe("/dev/urandom");
    expect(child(d, "devices", "controller").getAttribute("model")).toBe("none");
  });

  it("puts no <address> anywhere: libvirt assigns them", () => {
    expect(composeDomain(spec())).not.toContain("<address");
  });

  it("boots from disk when there is no kernel, and leaves out what the spec leaves out", () => {
    const xml = composeDomain(
      spec({
        kernelBoot: undefined,
        serialConsoleLogPath: undefined,
        rng: false,
        title: "",
        description: "",
        interfaces: [],
        disks: [],
      }),
    );
    const d = parse(xml);
    expect(child(d, "os", "boot").getAttribute("dev")).toBe("hd");
    expect(children(child(d, "os")).map((e) => e.tagName)).toEqual(["type", "boot"]);
    expect(children(child(d, "devices")).map((e) => e.tagName)).toEqual(["controller"]);
    expect(children(d, "title")).toHaveLength(0);
    expect(children(d, "description")).toHaveLength(0);
  });

  it("gives a kernel without initrd or cmdline only a <kernel>", () => {
    const d = parse(composeDomain(spec({ kernelBoot: { kernelPath: "/boot/k" } })));
    expect(children(child(d, "os")).map((e) => e.tagName)).toEqual(["type", "kernel"]);
  });

  it("describes disks with format, bus, read-only flag and a ua-disk alias", () => {
    const xml = composeDomain(
      spec({
        disks: [
          { name: "root", bus: "virtio", sourceFile: "/d/root.qcow2", format: "qcow2" },
          { name: "cidata", bus: "sata", sourceFile: "/d/ci.img", format: "raw", readonly: true },
          { name: "data", bus: "virtio", sourceFile: "/d/data.img", format: "raw" },
        ],
      }),
    );
    const disks = children(child(parse(xml), "devices"), "disk");
    expect(disks.map((d) => child(d, "target").getAttribute("dev"))).toEqual(["vda", "sda", "vdb"]);
    expect(disks.map((d) => child(d, "target").getAttribute("bus"))).toEqual([
      "virtio",
      "sata",
      "virtio",
    ]);
    expect(disks.map((d) => child(d, "driver").getAttribute("type"))).toEqual([
      "qcow2",
      "raw",
      "raw",
    ]);
    expect(disks.map((d) => children(d, "readonly").length)).toEqual([0, 1, 0]);
    expect(disks.map((d) => child(d, "alias").getAttribute("name"))).toEqual([
      "ua-disk-root",
      "ua-disk-cidata",
      "ua-disk-data",
    ]);
    expect(child(disks[0] as never, "source").getAttribute("file")).toBe("/d/root.qcow2");
  });

  it("describes NICs by kind, with model, optional MAC and a ua-net alias", () => {
    const xml = composeDomain(
      spec({
        interfaces: [
          {
            name: "default",
            kind: "pod",
            model: "virtio-non-transitional",
            mac: "02:AA:00:00:00:01",
          },
          { name: "sec", kind: "bridge", bridge: "br-sec", model: "e1000e" },
        ],
      }),
    );
    expect(interfacesOf(xml)).toEqual([
      {
        type: "network",
        alias: "ua-net-default",
        name: "default",
        mac: "02:aa:00:00:00:01",
        model: "virtio-non-transitional",
        placeholder: false,
      },
      {
        type: "bridge",
        alias: "ua-net-sec",
        name: "sec",
        model: "e1000e",
        bridge: "br-sec",
        placeholder: false,
      },
    ]);
  });

  it("is deterministic", () => {
    expect(composeDomain(spec())).toBe(composeDomain(spec()));
  });

  it("refuses a spec it cannot compose, naming the field", () => {
    expect(() => composeDomain(spec({ vcpus: 0 }))).toThrow("vcpus: must be a whole number");
    expect(() => composeDomain(spec({ memoryKiB: 1.5 }))).toThrow(DomainSpecError);
    expect(() => composeDomain(spec({ machine: "virt" as never }))).toThrow(
      "machine: must be one of q35, pc",
    );
    expect(() =>
      composeDomain(
        spec({
          interfaces: [{ name: "a", kind: "bridge", model: "virtio" }] as DomainSpec["interfaces"],
        }),
      ),
    ).toThrow("interfaces[0].bridge: must be a string");
    expect(() =>
      composeDomain(spec({ interfaces: [{ name: "a", kind: "pod", model: "ne2k_pci" as never }] })),
    ).toThrow("interfaces[0].model: must be one of");
    expect(() =>
      composeDomain(
        spec({
          interfaces: [
            { name: "a", kind: "pod", model: "virtio" },
            { name: "a", kind: "pod", model: "virtio" },
          ],
        }),
      ),
    ).toThrow("interfaces[1].name: repeats interface name 'a'");
    expect(() =>
      composeDomain(
        spec({
          interfaces: [{ name: "a", kind: "pod", model: "virtio", mac: "03:00:00:00:00:01" }],
        }),
      ),
    ).toThrow("interfaces[0].mac: must be a unicast address");
    expect(() =>
      composeDomain(
        spec({ disks: [{ name: "r", bus: "virtio", sourceFile: "rel/path.img", format: "raw" }] }),
      ),
    ).toThrow("disks[0].sourceFile: must be an absolute host path");
    expect(() => composeDomain(spec({ uuid: "not-a-uuid" }))).toThrow("uuid: must be a UUID");
  });
});

describe("SCSI disks", () => {
  it("share the sd* names with SATA and get one virtio-scsi controller", () => {
    const xml = composeDomain(
      spec({
        disks: [
          { name: "a", bus: "scsi", sourceFile: "/d/a", format: "raw" },
          { name: "b", bus: "sata", sourceFile: "/d/b", format: "raw" },
          { name: "c", bus: "scsi", sourceFile: "/d/c", format: "raw" },
        ],
      }),
    );
    const devices = child(parse(xml), "devices");
    expect(children(devices, "disk").map((d) => child(d, "target").getAttribute("dev"))).toEqual([
      "sda",
      "sdb",
      "sdc",
    ]);
    const scsi = children(devices, "controller").filter((c) => c.getAttribute("type") === "scsi");
    expect(scsi.map((c) => c.getAttribute("model"))).toEqual(["virtio-scsi"]);
    expect(virtXmlValidate(xml)).toMatch(/validates/);
  });

  it("no SCSI disk, no SCSI controller", () => {
    expect(composeDomain(spec())).not.toContain('type="scsi"');
  });
});

describe("diskTargets", () => {
  it("counts per bus and continues past z as Linux does", () => {
    const disks = Array.from({ length: 28 }, (_, i) => ({
      name: `d${i}`,
      bus: "virtio" as const,
      sourceFile: "/x",
      format: "raw" as const,
    }));
    const targets = diskTargets(disks);
    expect(targets.slice(0, 2)).toEqual(["vda", "vdb"]);
    expect(targets.slice(25)).toEqual(["vdz", "vdaa", "vdab"]);
  });
});

describe("nicXml", () => {
  it("is one <interface> with the ua-net alias, ready for attachDevice", () => {
    const xml = nicXml({
      name: "hot1",
      kind: "bridge",
      bridge: "br0",
      model: "virtio-non-transitional",
    });
    expect(elementCounts(xml)).toEqual({
      interface: 1,
      "interface/source": 1,
      "interface/model": 1,
      "interface/alias": 1,
    });
    const el = parse(xml);
    expect(el.getAttribute("type")).toBe("bridge");
    expect(child(el, "alias").getAttribute("name")).toBe("ua-net-hot1");
    expect(child(el, "source").getAttribute("bridge")).toBe("br0");
    expect(child(el, "model").getAttribute("type")).toBe("virtio-non-transitional");
  });

  it("refuses a name libvirt would not take as an alias", () => {
    expect(() => nicXml({ name: "a.b", kind: "pod", model: "virtio" })).toThrow(
      "nic.name: may hold only letters, digits",
    );
  });
});

describe("libvirt's schema (virt-xml-validate) accepts the composed XML", () => {
  const cases: [string, DomainSpec, number][] = [];
  for (const machine of ["q35", "pc"] as const) {
    const base = fixtureSpec(machine, `hrtest-dx-${machine}`);
    cases.push([`${machine} with kernel boot`, base, 0]);
    cases.push([`${machine} with kernel boot and 4 placeholders`, base, 4]);
    cases.push([`${machine} booting from disk`, { ...base, kernelBoot: undefined }, 0]);
    cases.push([
      `${machine} booting from disk, 32 placeholders`,
      { ...base, kernelBoot: undefined },
      32,
    ]);
  }
  it.each(cases)("%s", (_label, s, placeholders) => {
    const xml = addPlaceholders(composeDomain(s), placeholders, "virtio-non-transitional");
    expect(virtXmlValidate(xml)).toMatch(/validates/);
  });

  it("accepts a domain holding a hot-plug NIC from nicXml", () => {
    const nic = nicXml({ name: "hot", kind: "pod", model: "e1000e", mac: "02:00:00:00:00:09" });
    const xml = composeDomain(fixtureSpec("q35", "hrtest-dx-nic")).replace(
      "</devices>",
      `${nic}</devices>`,
    );
    expect(virtXmlValidate(xml)).toMatch(/validates/);
  });

  it("rejects what it should, so the check above means something", () => {
    const xml = composeDomain(fixtureSpec("q35", "hrtest-dx-bad")).replace(
      "<on_crash>destroy</on_crash>",
      "<on_crash>explode</on_crash>",
    );
    expect(() => virtXmlValidate(xml)).toThrow(/fails to validate/);
  });
});
