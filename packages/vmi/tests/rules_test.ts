import { describe, expect, it } from "vitest";
import { interfaceBinding, validateVmi } from "../src/mod.ts";
import { baseVmi, expectOneError, expectValid, vmiWith } from "./helpers.ts";

const INTERFACES = "spec.domain.devices.interfaces";

describe("machine type", () => {
  it('defaults to q35, also when empty (KubeVirt\'s examples write type: "")', () => {
    expect(validateVmi(baseVmi()).vmi?.spec.domain.machine.type).toBe("q35");
    const empty = validateVmi(vmiWith((doc) => (doc.spec.domain.machine = { type: "" })));
    expectValid(empty);
    expect(empty.vmi?.spec.domain.machine.type).toBe("q35");
  });

  it.each([["q35"], ["pc"]])("takes %s", (type) => {
    const result = validateVmi(vmiWith((doc) => (doc.spec.domain.machine = { type })));
    expectValid(result);
    expect(result.vmi?.spec.domain.machine.type).toBe(type);
  });

  it.each([
    ["pc-q35-7.2", "q35"],
    ["pc-q35-rhel9.2.0", "q35"],
    ["pc-i440fx-7.2", "pc"],
  ])("refuses the versioned name %s, pointing to %s", (type, family) => {
    const result = validateVmi(vmiWith((doc) => (doc.spec.domain.machine = { type })));
    const error = expectOneError(result, "spec.domain.machine.type");
    expect(error.message).toBe(
      `spec.domain.machine.type "${type}" is a versioned machine type; headroom takes the family name only: use "${family}"`,
    );
  });

  it.each([["virt"], ["Q35"], ["microvm"]])("refuses %j", (type) => {
    const result = validateVmi(vmiWith((doc) => (doc.spec.domain.machine = { type })));
    const error = expectOneError(result, "spec.domain.machine.type");
    expect(error.message).toBe(`spec.domain.machine.type must be "q35" or "pc" (got "${type}")`);
  });
});

describe("cpu", () => {
  it("takes up to 64 vCPUs in all", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.cpu = { cores: 4, sockets: 4, threads: 4 }));
    expectValid(validateVmi(doc));
  });

  it("refuses more than 64 vCPUs in all", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.cpu = { cores: 8, sockets: 3, threads: 3 }));
    const error = expectOneError(validateVmi(doc), "spec.domain.cpu");
    expect(error.message).toBe(
      "spec.domain.cpu gives 72 vCPUs (cores × sockets × threads); at most 64 are allowed",
    );
  });

  it("is optional", () => {
    expectValid(validateVmi(vmiWith((doc) => delete doc.spec.domain.cpu)));
  });
});

describe("memory", () => {
  it.each([["16Mi"], ["128Mi"], ["1Gi"], ["1.5Gi"], ["64Gi"], [134217728], ["100M"]])(
    "guest %j is accepted",
    (guest) => {
      const result = validateVmi(vmiWith((doc) => (doc.spec.domain.memory.guest = guest)));
      expectValid(result);
      expect(result.vmi?.spec.domain.memory.guest).toBe(guest);
    },
  );

  it.each([["15Mi"], ["0"], ["65Gi"], ["1Ti"], ["-1Gi"]])("guest %j is out of range", (guest) => {
    const field = "spec.domain.memory.guest";
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.memory.guest = guest))),
      field,
    );
    expect(error.message).toMatch(/between 16Mi and 64Gi|is negative/);
  });

  it.each([["lots"], ["128MB"], ["1.5"], ["128 Mi"]])("guest %j is not a size", (guest) => {
    const field = "spec.domain.memory.guest";
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.memory.guest = guest))),
      field,
    );
    expect(error.message).toContain("must be a size such as 128Mi or 1Gi");
  });

  it("takes resources.requests.memory as the guest memory, as KubeVirt does", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.memory;
      doc.spec.domain.resources.requests.memory = "256Mi";
    });
    const result = validateVmi(doc);
    expectValid(result);
    expect(result.vmi?.spec.domain.memory.guest).toBe("256Mi");
    expect(result.vmi?.spec.domain.resources?.requests?.memory).toBe("256Mi");
  });

  it("takes resources.limits.memory when nothing else is given", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.memory;
      doc.spec.domain.resources.limits = { memory: "512Mi" };
    });
    expect(validateVmi(doc).vmi?.spec.domain.memory.guest).toBe("512Mi");
  });

  it("defaults to 128Mi when the document gives none (the seed's example has none)", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.memory);
    const result = validateVmi(doc);
    expectValid(result);
    expect(result.vmi?.spec.domain.memory.guest).toBe("128Mi");
  });

  it("checks requests.memory range", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.resources.requests.memory = "8Mi"));
    expectOneError(validateVmi(doc), "spec.domain.resources.requests.memory");
  });

  it("checks a lone limit's range", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.memory;
      doc.spec.domain.resources.limits = { memory: "1Mi" };
    });
    expectOneError(validateVmi(doc), "spec.domain.resources.limits.memory");
  });

  it("refuses guest memory above the limit", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.memory.guest = "1Gi";
      doc.spec.domain.resources.limits = { memory: "512Mi" };
    });
    const error = expectOneError(validateVmi(doc), "spec.domain.memory.guest");
    expect(error.message).toBe(
      'spec.domain.memory.guest is larger than spec.domain.resources.limits.memory ("512Mi")',
    );
  });

  it("takes a limit at or above the guest memory", () => {
    for (const limit of ["128Mi", "134217728", "1Gi"]) {
      const doc = vmiWith((doc) => (doc.spec.domain.resources.limits = { memory: limit }));
      expectValid(validateVmi(doc));
    }
  });

  it("refuses a limit that is not a size", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.resources.limits = { memory: "big" }));
    expectOneError(validateVmi(doc), "spec.domain.resources.limits.memory");
  });
});

describe("interfaces", () => {
  it("defaults the model to virtio", () => {
    const vmi = validateVmi(baseVmi()).vmi;
    expect(vmi?.spec.domain.devices.interfaces.map((iface) => iface.model)).toEqual([
      "virtio",
      "virtio",
    ]);
  });

  it.each([["second"], ["a"], ["net-1"], ["a".repeat(63)]])("name %j is accepted", (name) => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces[1].name = name;
      doc.spec.networks[1].name = name;
    });
    expectValid(validateVmi(doc));
  });

  it.each([["Net1"], ["net_1"], ["net.1"], ["-net"], [""], ["a".repeat(64)]])(
    "name %j is refused",
    (name) => {
      const doc = vmiWith((doc) => {
        doc.spec.domain.devices.interfaces[1].name = name;
        doc.spec.networks[1].name = name;
      });
      expect(validateVmi(doc).errors.map((error) => error.field)).toEqual([
        "spec.domain.devices.interfaces[1].name",
        "spec.networks[1].name",
      ]);
    },
  );

  it("refuses duplicate names", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "secondary", bridge: {} });
    });
    const error = expectOneError(validateVmi(doc), `${INTERFACES}[2].name`);
    expect(error.message).toBe(
      `${INTERFACES}[2].name "secondary" is already used by ${INTERFACES}[1]`,
    );
  });

  it("needs a binding", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.devices.interfaces[1].bridge);
    const error = expectOneError(validateVmi(doc), `${INTERFACES}[1]`);
    expect(error.message).toBe(`${INTERFACES}[1] needs a binding: masquerade or bridge`);
  });

  it("takes one binding only", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.devices.interfaces[1].masquerade = {}));
    const errors = validateVmi(doc).errors;
    expect(errors[0]).toEqual({
      field: `${INTERFACES}[1]`,
      message: `${INTERFACES}[1] has 2 bindings (masquerade, bridge); give exactly one`,
    });
  });

  it("refuses multicast and zero MAC addresses", () => {
    for (const mac of ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"]) {
      const doc = vmiWith((doc) => (doc.spec.domain.devices.interfaces[0].macAddress = mac));
      expectOneError(validateVmi(doc), `${INTERFACES}[0].macAddress`);
    }
  });

  it("refuses a MAC address used twice, whatever the case", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces[0].macAddress = "52:54:00:ab:cd:ef";
      doc.spec.domain.devices.interfaces[1].macAddress = "52:54:00:AB:CD:EF";
    });
    const error = expectOneError(validateVmi(doc), `${INTERFACES}[1].macAddress`);
    expect(error.message).toContain(`is already used by ${INTERFACES}[0]`);
  });

  it("keeps the MAC address in the normalized VMI", () => {
    const doc = vmiWith(
      (doc) => (doc.spec.domain.devices.interfaces[0].macAddress = "52:54:00:00:00:01"),
    );
    expect(validateVmi(doc).vmi?.spec.domain.devices.interfaces[0]?.macAddress).toBe(
      "52:54:00:00:00:01",
    );
  });

  it("names the binding", () => {
    const vmi = validateVmi(baseVmi()).vmi;
    expect(vmi?.spec.domain.devices.interfaces.map(interfaceBinding)).toEqual([
      "masquerade",
      "bridge",
    ]);
  });
});

describe("networks", () => {
  it("refuses duplicate names", () => {
    const doc = vmiWith((doc) => {
      doc.spec.networks.push({ name: "secondary", multus: { networkName: "other" } });
    });
    expectOneError(validateVmi(doc), "spec.networks[2].name");
  });

  it("needs a source", () => {
    const doc = vmiWith((doc) => delete doc.spec.networks[1].multus);
    const errors = validateVmi(doc).errors;
    expect(errors[0]).toEqual({
      field: "spec.networks[1]",
      message: "spec.networks[1] needs a source: pod or multus",
    });
  });

  it("takes one source only", () => {
    const doc = vmiWith((doc) => (doc.spec.networks[0].multus = { networkName: "x" }));
    const errors = validateVmi(doc).errors;
    expect(errors.map((error) => error.field)).toContain("spec.networks[0]");
    expect(errors.find((e) => e.field === "spec.networks[0]")?.message).toBe(
      "spec.networks[0] has 2 sources (pod, multus); give exactly one",
    );
  });

  it("takes at most one pod network", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", masquerade: {} });
      doc.spec.networks.push({ name: "third", pod: {} });
    });
    const error = expectOneError(validateVmi(doc), "spec.networks[2].pod");
    expect(error.message).toBe(
      "spec.networks[2].pod: only one pod network is allowed, and spec.networks[0] is one",
    );
  });

  it("takes several multus networks, even to the same network name", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
      doc.spec.networks.push({ name: "third", multus: { networkName: "headroom-bridge" } });
    });
    expectValid(validateVmi(doc));
  });

  it("works without a pod network", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.shift();
      doc.spec.networks.shift();
    });
    expectValid(validateVmi(doc));
  });
});

describe("interfaces and networks pair up by name", () => {
  it("refuses an interface without a network", () => {
    const doc = vmiWith((doc) => doc.spec.networks.pop());
    const error = expectOneError(validateVmi(doc), `${INTERFACES}[1].name`);
    expect(error.message).toBe(
      `${INTERFACES}[1].name: no network in spec.networks is named "secondary"`,
    );
  });

  it("refuses a network without an interface", () => {
    const doc = vmiWith((doc) => doc.spec.domain.devices.interfaces.pop());
    const error = expectOneError(validateVmi(doc), "spec.networks[1].name");
    expect(error.message).toBe(
      `spec.networks[1].name: no interface in ${INTERFACES} is named "secondary"`,
    );
  });

  it("does not depend on order", () => {
    const doc = vmiWith((doc) => doc.spec.networks.reverse());
    expectValid(validateVmi(doc));
  });

  it("refuses masquerade on a multus network", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces[1] = { name: "secondary", masquerade: {} };
    });
    const error = expectOneError(validateVmi(doc), `${INTERFACES}[1].masquerade`);
    expect(error.message).toBe(
      `${INTERFACES}[1].masquerade works only with a pod network, and network "secondary" is multus (use bridge)`,
    );
  });

  it("refuses bridge on the pod network", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces[0] = { name: "default", bridge: {} };
    });
    const error = expectOneError(validateVmi(doc), `${INTERFACES}[0].bridge`);
    expect(error.message).toContain("headroom bridges only to multus networks");
  });
});

describe("disks and volumes", () => {
  it("defaults the disk bus to virtio", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.devices.disks[0].disk);
    expect(validateVmi(doc).vmi?.spec.domain.devices.disks[0]?.disk).toEqual({ bus: "virtio" });
  });

  it("refuses a disk without a volume", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.devices.disks[0].name = "rootdisk"));
    const errors = validateVmi(doc).errors;
    expect(errors).toEqual([
      {
        field: "spec.domain.devices.disks[0].name",
        message: 'spec.domain.devices.disks[0].name: no volume in spec.volumes is named "rootdisk"',
      },
    ]);
  });

  it("gives a volume no disk names a virtio disk, after the named ones, as KubeVirt does", () => {
    const doc = vmiWith((doc) => {
      doc.spec.volumes.push({ name: "scratch", emptyDisk: { capacity: "1Gi" } });
      doc.spec.domain.devices.disks = [];
    });
    const result = validateVmi(doc);
    expectValid(result);
    expect(result.vmi?.spec.domain.devices.disks).toEqual([
      { name: "containerdisk", disk: { bus: "virtio" } },
      { name: "scratch", disk: { bus: "virtio" } },
    ]);
  });

  it("refuses duplicate disk and volume names", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.disks.push({ name: "containerdisk" });
      doc.spec.volumes.push({ name: "containerdisk", emptyDisk: { capacity: "1Gi" } });
    });
    expect(validateVmi(doc).errors.map((error) => error.field)).toEqual([
      "spec.domain.devices.disks[1].name",
      "spec.volumes[1].name",
    ]);
  });

  it("needs one volume source", () => {
    const none = vmiWith((doc) => delete doc.spec.volumes[0].containerDisk);
    expect(expectOneError(validateVmi(none), "spec.volumes[0]").message).toBe(
      "spec.volumes[0] needs a source: containerDisk, emptyDisk, hostDisk, persistentVolumeClaim, dataVolume, ephemeral, cloudInitNoCloud or cloudInitConfigDrive",
    );
    const both = vmiWith((doc) => (doc.spec.volumes[0].emptyDisk = { capacity: "1Gi" }));
    expect(expectOneError(validateVmi(both), "spec.volumes[0]").message).toBe(
      "spec.volumes[0] has 2 sources (containerDisk, emptyDisk); give exactly one",
    );
  });

  it("takes a cloud-init volume as KubeVirt writes it, and gives it a disk", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.volumes.push({
          name: "cloudinitdisk",
          cloudInitNoCloud: { userData: "#cloud-config\npassword: fedora\n" },
        });
      }),
    );
    expectValid(result);
    expect(result.vmi?.spec.volumes[1]).toEqual({
      name: "cloudinitdisk",
      cloudInitNoCloud: { userData: "#cloud-config\npassword: fedora\n" },
    });
    expect(result.vmi?.spec.domain.devices.disks.map((disk) => disk.name)).toContain(
      "cloudinitdisk",
    );
  });

  it.each([
    [{}, "needs its user data in exactly one of userData or userDataBase64 (got 0)"],
    [
      { userData: "a", userDataBase64: "YQ==" },
      "exactly one of userData or userDataBase64 (got 2)",
    ],
    [
      { userData: "a", networkData: "b", networkDataBase64: "Yg==" },
      "takes its network data from one of networkData or networkDataBase64, not both",
    ],
  ])("refuses cloud-init data %j", (data, message) => {
    const doc = vmiWith((doc) => {
      doc.spec.volumes.push({ name: "seed", cloudInitConfigDrive: data });
    });
    const error = expectOneError(validateVmi(doc), "spec.volumes[1].cloudInitConfigDrive");
    expect(error.message).toContain(message);
  });

  it("refuses base64 that is not, and a second cloud-init volume", () => {
    const bad = vmiWith((doc) => {
      doc.spec.volumes.push({ name: "seed", cloudInitNoCloud: { userDataBase64: "abc" } });
    });
    expect(
      expectOneError(validateVmi(bad), "spec.volumes[1].cloudInitNoCloud.userDataBase64").message,
    ).toBe("spec.volumes[1].cloudInitNoCloud.userDataBase64 is not valid base64");
    const two = vmiWith((doc) => {
      doc.spec.volumes.push({ name: "one", cloudInitNoCloud: { userData: "a" } });
      doc.spec.volumes.push({ name: "two", cloudInitConfigDrive: { userData: "b" } });
    });
    expect(expectOneError(validateVmi(two), "spec.volumes[2].cloudInitConfigDrive").message).toBe(
      "spec.volumes[2].cloudInitConfigDrive: a VMI takes one cloud-init volume, and spec.volumes[1] is one",
    );
  });

  it.each([["1Mi"], ["1Gi"], ["1Ti"], ["10G"]])("emptyDisk capacity %s is accepted", (capacity) => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.disks.push({ name: "scratch" });
      doc.spec.volumes.push({ name: "scratch", emptyDisk: { capacity } });
    });
    expectValid(validateVmi(doc));
  });

  it.each([["0"], ["1Ki"], ["2Ti"], ["1.5"], ["big"]])(
    "emptyDisk capacity %s is refused",
    (capacity) => {
      const doc = vmiWith((doc) => {
        doc.spec.domain.devices.disks.push({ name: "scratch" });
        doc.spec.volumes.push({ name: "scratch", emptyDisk: { capacity } });
      });
      expectOneError(validateVmi(doc), "spec.volumes[1].emptyDisk.capacity");
    },
  );

  it("requires emptyDisk capacity", () => {
    const doc = vmiWith((doc) => (doc.spec.volumes[0] = { name: "containerdisk", emptyDisk: {} }));
    expectOneError(validateVmi(doc), "spec.volumes[0].emptyDisk.capacity");
  });
});

describe("rng", () => {
  it("is kept under devices", () => {
    expect(validateVmi(baseVmi()).vmi?.spec.domain.devices.rng).toEqual({});
  });

  it("is moved from spec.domain to devices, as the seed's example writes it", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.devices.rng;
      doc.spec.domain.rng = {};
    });
    const vmi = validateVmi(doc).vmi;
    expect(vmi?.spec.domain.devices.rng).toEqual({});
    expect(vmi?.spec.domain).not.toHaveProperty("rng");
  });

  it("is absent when not asked for", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.devices.rng);
    expect(validateVmi(doc).vmi?.spec.domain.devices).not.toHaveProperty("rng");
  });
});

describe("the normalized VMI", () => {
  it("shares nothing with the document", () => {
    const doc = baseVmi();
    const vmi = validateVmi(doc).vmi;
    doc.metadata.labels.app = "changed";
    doc.spec.domain.devices.interfaces[0].name = "changed";
    expect(vmi?.metadata.labels?.app).toBe("demo");
    expect(vmi?.spec.domain.devices.interfaces[0]?.name).toBe("default");
  });

  it("has every list, even when the document leaves them out", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.devices;
      delete doc.spec.networks;
      delete doc.spec.volumes;
    });
    const vmi = validateVmi(doc).vmi;
    // KubeVirt's default: the pod network, through a masquerade interface.
    expect(vmi?.spec.networks).toEqual([{ name: "default", pod: {} }]);
    expect(vmi?.spec.volumes).toEqual([]);
    expect(vmi?.spec.domain.devices).toEqual({
      disks: [],
      interfaces: [{ name: "default", model: "virtio", masquerade: {} }],
    });
  });

  it("adds no interface when autoattachPodInterface is false, and keeps saying so", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices = { autoattachPodInterface: false };
      delete doc.spec.networks;
      delete doc.spec.volumes;
    });
    const vmi = validateVmi(doc).vmi;
    expect(vmi?.spec.networks).toEqual([]);
    expect(vmi?.spec.domain.devices).toEqual({
      disks: [],
      interfaces: [],
      autoattachPodInterface: false,
    });
    // Validated again (the composer does), the stored VMI stays as it is.
    expect(validateVmi(structuredClone(vmi)).vmi).toEqual(vmi);
  });

  it("adds no pod interface to a VMI that names interfaces of its own", () => {
    const vmi = validateVmi(baseVmi()).vmi;
    expect(vmi?.spec.domain.devices.interfaces.map((iface) => iface.name)).toEqual([
      "default",
      "secondary",
    ]);
    expect(vmi?.spec.networks.map((network) => network.name)).toEqual(["default", "secondary"]);
  });

  it("validates again to itself", () => {
    const vmi = validateVmi(baseVmi()).vmi;
    const again = validateVmi(structuredClone(vmi));
    expectValid(again);
    expect(again.vmi).toEqual(vmi);
  });
});

describe("disk driver fields", () => {
  const DISK = "spec.domain.devices.disks[0]";
  const withDisk = (fields: object) =>
    validateVmi(vmiWith((doc) => Object.assign(doc.spec.domain.devices.disks[0], fields)));

  it("keeps errorPolicy, io and custom block sizes; native IO bypasses the host's cache", () => {
    const kept = withDisk({
      errorPolicy: "report",
      io: "native",
      blockSize: { custom: { logical: 512, physical: 4096 } },
    });
    expect(kept.vmi?.spec.domain.devices.disks[0]).toEqual({
      name: "containerdisk",
      disk: { bus: "virtio" },
      errorPolicy: "report",
      io: "native",
      cache: "none",
      blockSize: { custom: { logical: 512, physical: 4096 } },
    });
    const threads = withDisk({ io: "threads" });
    expectValid(threads);
    expect(threads.vmi?.spec.domain.devices.disks[0]?.cache).toBeUndefined();
  });

  it.each([
    [{ io: "native", cache: "writeback" }, `${DISK}.io`, 'cache must be none (got "writeback")'],
    [
      { blockSize: { custom: { logical: 4096, physical: 512 } } },
      `${DISK}.blockSize.custom.logical`,
      "must be no more than the physical size, 512",
    ],
    [
      { blockSize: { custom: { logical: 512, physical: 3000 } } },
      `${DISK}.blockSize.custom.physical`,
      "must be a power of 2 (got 3000)",
    ],
    [
      { disk: { bus: "sata" }, blockSize: { custom: { logical: 4096, physical: 4096 } } },
      `${DISK}.blockSize.custom.logical`,
      "must be 512 on a SATA drive",
    ],
    [
      { blockSize: { custom: { logical: 512, physical: 512 }, matchVolume: {} } },
      `${DISK}.blockSize`,
      "gives both custom sizes and matchVolume",
    ],
  ])("refuses %j", (fields, field, why) => {
    expect(expectOneError(withDisk(fields), field).message).toContain(why);
  });
});

describe("interface device fields", () => {
  it("keeps bootOrder, acpiIndex and a down link; up is the default, not kept", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        Object.assign(doc.spec.domain.devices.interfaces[0], { bootOrder: 2, acpiIndex: 3 });
        Object.assign(doc.spec.domain.devices.interfaces[1], { state: "down" });
      }),
    );
    const [pod, secondary] = result.vmi?.spec.domain.devices.interfaces ?? [];
    expect(pod).toMatchObject({ bootOrder: 2, acpiIndex: 3 });
    expect(pod?.state).toBeUndefined();
    expect(secondary?.state).toBe("down");
    const up = validateVmi(vmiWith((doc) => (doc.spec.domain.devices.interfaces[0].state = "up")));
    expect(up.vmi?.spec.domain.devices.interfaces[0]).not.toHaveProperty("state");
  });

  it("refuses a boot place a disk has, an ACPI index twice, and state absent", () => {
    const boot = vmiWith((doc) => {
      doc.spec.domain.devices.disks[0].bootOrder = 1;
      doc.spec.domain.devices.interfaces[1].bootOrder = 1;
    });
    expect(expectOneError(validateVmi(boot), `${INTERFACES}[1].bootOrder`).message).toBe(
      `${INTERFACES}[1].bootOrder 1 is already spec.domain.devices.disks[0]'s; each device boots in its own place`,
    );
    const acpi = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces[0].acpiIndex = 7;
      doc.spec.domain.devices.interfaces[1].acpiIndex = 7;
    });
    expect(expectOneError(validateVmi(acpi), `${INTERFACES}[1].acpiIndex`).message).toContain(
      "is already spec.domain.devices.interfaces[0]'s",
    );
    const absent = vmiWith((doc) => (doc.spec.domain.devices.interfaces[1].state = "absent"));
    expect(expectOneError(validateVmi(absent), `${INTERFACES}[1].state`).message).toContain(
      "leave it out of the VMI",
    );
  });
});

describe("a default multus network", () => {
  it("takes the pod network's place, and is kept", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.domain.devices.interfaces = [{ name: "secondary", bridge: {} }];
        doc.spec.networks = [
          { name: "secondary", multus: { networkName: "headroom-bridge", default: true } },
        ];
      }),
    );
    expectValid(result);
    expect(result.vmi?.spec.networks[0]?.multus).toEqual({
      networkName: "headroom-bridge",
      default: true,
    });
  });

  it("is refused beside the pod network", () => {
    const doc = vmiWith((doc) => (doc.spec.networks[1].multus.default = true));
    expect(expectOneError(validateVmi(doc), "spec.networks[1].multus.default").message).toBe(
      "spec.networks[1].multus.default: a default multus network takes the pod network's place, and spec.networks[0] is the pod network",
    );
  });
});

describe("cpu.features", () => {
  it("stores each feature with KubeVirt's default policy, require", () => {
    const result = validateVmi(
      vmiWith(
        (doc) =>
          (doc.spec.domain.cpu = {
            model: "Nehalem",
            features: [{ name: "aes" }, { name: "popcnt", policy: "disable" }],
          }),
      ),
    );
    expect(result.vmi?.spec.domain.cpu?.features).toEqual([
      { name: "aes", policy: "require" },
      { name: "popcnt", policy: "disable" },
    ]);
  });

  it("refuses a feature named twice, and a name QEMU could not have", () => {
    const twice = vmiWith(
      (doc) => (doc.spec.domain.cpu = { features: [{ name: "aes" }, { name: "aes" }] }),
    );
    expect(expectOneError(validateVmi(twice), "spec.domain.cpu.features[1].name").message).toBe(
      'spec.domain.cpu.features[1].name "aes" is already used by spec.domain.cpu.features[0]',
    );
    const odd = vmiWith((doc) => (doc.spec.domain.cpu = { features: [{ name: "<x/>" }] }));
    expectOneError(validateVmi(odd), "spec.domain.cpu.features[0].name");
  });
});

describe("containerDisk.path", () => {
  it("is kept as written", () => {
    const result = validateVmi(
      vmiWith((doc) => (doc.spec.volumes[0].containerDisk.path = "/custom/root.qcow2")),
    );
    expect(result.vmi?.spec.volumes[0]?.containerDisk).toEqual({
      image: "headroom/tiny-guest",
      path: "/custom/root.qcow2",
    });
  });

  it.each([["disk.qcow2"], ["/disk/../etc/shadow"], ["/disk/./x"], ["/"]])("refuses %j", (path) => {
    const doc = vmiWith((doc) => (doc.spec.volumes[0].containerDisk.path = path));
    expectOneError(validateVmi(doc), "spec.volumes[0].containerDisk.path");
  });
});
