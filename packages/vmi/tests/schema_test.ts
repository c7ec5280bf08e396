import { describe, expect, it } from "vitest";
import { validateVmi, vmiSchema } from "../src/mod.ts";
import { baseVmi, type Doc, expectOneError, expectValid, vmiWith } from "./helpers.ts";

describe("the base document", () => {
  it("is valid", () => {
    expectValid(validateVmi(baseVmi()));
  });

  it("is a draft 2020-12 schema", () => {
    expect(vmiSchema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  });
});

describe("the document as a whole", () => {
  it.each([
    [null, "null"],
    [[], "a list"],
    ["text", 'the string "text"'],
    [5, "the number 5"],
  ])("%j is refused", (doc, described) => {
    const result = validateVmi(doc);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      { field: "", message: `the document must be an object, not ${described}` },
    ]);
  });

  it("names every missing top-level field", () => {
    expect(validateVmi({}).errors).toEqual([
      { field: "apiVersion", message: "apiVersion is required" },
      { field: "kind", message: "kind is required" },
      { field: "metadata", message: "metadata is required" },
      { field: "spec", message: "spec is required" },
    ]);
  });

  it("takes kubevirt.io/v1, and reads the deprecated v1alpha3 as v1 with a warning", () => {
    const old = validateVmi(
      vmiWith((doc) => {
        doc.apiVersion = "kubevirt.io/v1alpha3";
      }),
    );
    expect(old.valid).toBe(true);
    expect(old.vmi?.apiVersion).toBe("kubevirt.io/v1");
    expect(old.warnings).toEqual([
      {
        field: "apiVersion",
        message:
          "apiVersion: kubevirt.io/v1alpha3 is deprecated in KubeVirt; the VMI is read and stored as kubevirt.io/v1",
      },
    ]);
    const doc = vmiWith((doc) => {
      doc.apiVersion = "kubevirt.io/v2";
    });
    expect(expectOneError(validateVmi(doc), "apiVersion").message).toBe(
      'apiVersion must be one of: "kubevirt.io/v1", "kubevirt.io/v1alpha3" (got "kubevirt.io/v2")',
    );
  });

  it("takes only VirtualMachineInstance", () => {
    const doc = vmiWith((doc) => {
      doc.kind = "VirtualMachine";
    });
    expect(expectOneError(validateVmi(doc), "kind").message).toBe(
      'kind must be "VirtualMachineInstance" (got "VirtualMachine")',
    );
  });

  it("requires spec.domain", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain;
    });
    expectOneError(validateVmi(doc), "spec.domain");
  });

  it("reports several problems at once", () => {
    const doc = vmiWith((doc) => {
      doc.metadata.name = "Bad";
      doc.spec.domain.devices.gpus = [];
      doc.spec.domain.cpu.cores = 0;
    });
    expect(validateVmi(doc).errors.map((error) => error.field)).toEqual([
      "metadata.name",
      "spec.domain.cpu.cores",
      "spec.domain.devices.gpus",
    ]);
  });
});

describe("fields KubeVirt has that headroom refuses", () => {
  it.each([
    ["metadata.resourceVersion", (doc: Doc) => (doc.metadata.resourceVersion = "7")],
    [
      "spec.domain.cpu.dedicatedCpuPlacement",
      (doc: Doc) => (doc.spec.domain.cpu.dedicatedCpuPlacement = true),
    ],
    [
      "spec.domain.memory.hugepages",
      (doc: Doc) => (doc.spec.domain.memory.hugepages = { pageSize: "2Mi" }),
    ],
    [
      "spec.domain.firmware.acpi",
      (doc: Doc) => (doc.spec.domain.firmware.acpi = { slicNameRef: "slic" }),
    ],
    [
      "spec.domain.firmware.kernelBoot.container.imagePullSecret",
      (doc: Doc) => (doc.spec.domain.firmware.kernelBoot.container.imagePullSecret = "s"),
    ],
    ["spec.domain.devices.gpus", (doc: Doc) => (doc.spec.domain.devices.gpus = [])],
    ["spec.domain.devices.hostDevices", (doc: Doc) => (doc.spec.domain.devices.hostDevices = [])],
    [
      "spec.domain.devices.disks[0].disk.pciAddress",
      (doc: Doc) => (doc.spec.domain.devices.disks[0].disk.pciAddress = "0000:81:01.10"),
    ],
    [
      "spec.domain.devices.interfaces[1].pciAddress",
      (doc: Doc) => (doc.spec.domain.devices.interfaces[1].pciAddress = "0000:81:00.1"),
    ],
    [
      "spec.domain.devices.interfaces[1].sriov",
      (doc: Doc) => (doc.spec.domain.devices.interfaces[1].sriov = {}),
    ],
    [
      "spec.domain.devices.interfaces[0].slirp",
      (doc: Doc) => (doc.spec.domain.devices.interfaces[0].slirp = {}),
    ],
    [
      "spec.domain.devices.interfaces[0].passt",
      (doc: Doc) => (doc.spec.domain.devices.interfaces[0].passt = {}),
    ],
    [
      "spec.domain.devices.disks[0].blockSize.custom.discardGranularity",
      (doc: Doc) =>
        (doc.spec.domain.devices.disks[0].blockSize = {
          custom: { logical: 512, physical: 512, discardGranularity: 4096 },
        }),
    ],
    [
      "spec.networks[0].pod.vmNetworkCIDR",
      (doc: Doc) => (doc.spec.networks[0].pod.vmNetworkCIDR = "10.0.0.0/24"),
    ],
    [
      "spec.volumes[0].cloudInitNoCloud.secretRef",
      (doc: Doc) => (doc.spec.volumes[0].cloudInitNoCloud = { secretRef: { name: "s" } }),
    ],
  ])("%s is refused by name, saying why", (field, change) => {
    const error = expectOneError(validateVmi(vmiWith(change)), field);
    expect(error.message).toMatch(
      new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")} is refused: .+`),
    );
  });

  it.each([
    ["metadata.resourceVersion", "it is set by headroom, never by a document; remove it"],
    ["spec.domain.devices.gpus", "headroom's hosts pass no hardware through to guests"],
    [
      "spec.domain.firmware.kernelBoot.container.imagePullSecret",
      "it names a Kubernetes secret; give the host a login instead: headroom registry login HOST",
    ],
    [
      "spec.domain.devices.interfaces[0].slirp",
      "KubeVirt removed the slirp binding; use masquerade",
    ],
    [
      "spec.startStrategy",
      "headroom has no command to unpause a guest, so one started paused would never run",
    ],
  ])("%s: %s", (field, why) => {
    const change = (doc: Doc) => {
      if (field === "metadata.resourceVersion") doc.metadata.resourceVersion = "7";
      if (field === "spec.domain.devices.gpus") doc.spec.domain.devices.gpus = [];
      if (field.endsWith("imagePullSecret"))
        doc.spec.domain.firmware.kernelBoot.container.imagePullSecret = "s";
      if (field.endsWith("slirp")) doc.spec.domain.devices.interfaces[0].slirp = {};
      if (field === "spec.startStrategy") doc.spec.startStrategy = "Paused";
    };
    expect(expectOneError(validateVmi(vmiWith(change)), field).message).toBe(
      `${field} is refused: ${why}`,
    );
  });
});

describe("fields KubeVirt has that have no effect on headroom", () => {
  it.each([
    ["status", (doc: Doc) => (doc.status = {})],
    ["spec.tolerations", (doc: Doc) => (doc.spec.tolerations = [])],
    [
      "spec.domain.resources.requests.cpu",
      (doc: Doc) => (doc.spec.domain.resources.requests.cpu = "1"),
    ],
    [
      "spec.domain.resources.overcommitGuestOverhead",
      (doc: Doc) => (doc.spec.domain.resources.overcommitGuestOverhead = true),
    ],
  ])("%s is accepted with a warning that says why", (field, change) => {
    const result = validateVmi(vmiWith(change));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.field).toBe(field);
    expect(result.warnings[0]?.message).toMatch(
      new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")} has no effect: .+`),
    );
  });

  it("keeps what it ignores out of the stored VMI", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.affinity = { podAntiAffinity: { disk: "ssd" } };
        doc.status = { phase: "Running" };
      }),
    );
    expect(JSON.stringify(result.vmi)).not.toContain("ssd");
    expect(JSON.stringify(result.vmi)).not.toContain("phase");
  });
});

describe("placement fields", () => {
  it("keeps nodeSelector and nodeAffinity, which placement honors, without a warning", () => {
    const nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] }],
      },
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 10, preference: { matchFields: [{ key: "metadata.name", operator: "Exists" }] } },
      ],
    };
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.nodeSelector = { disk: "ssd" };
        doc.spec.affinity = { nodeAffinity };
      }),
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.vmi?.spec.nodeSelector).toEqual({ disk: "ssd" });
    expect(result.vmi?.spec.affinity).toEqual({ nodeAffinity });
  });

  it.each([
    [(doc: Doc) => (doc.spec.nodeSelector = { "bad key!": "x" }), "spec.nodeSelector[bad key!]"],
    [(doc: Doc) => (doc.spec.nodeSelector = { disk: 3 }), "spec.nodeSelector.disk"],
    [
      (doc: Doc) =>
        (doc.spec.affinity = {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "Near" }] }],
            },
          },
        }),
      "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
    ],
  ])("refuses a malformed one naming the field (%#)", (change, field) => {
    const result = validateVmi(vmiWith(change));
    expect(result.valid).toBe(false);
    expect(result.errors.map((error) => error.field)).toContain(field);
  });
});

describe("spec.hostname and spec.domain.firmware.serial", () => {
  it("are stored as given", () => {
    const vmi = validateVmi(
      vmiWith((doc) => {
        doc.spec.hostname = "db-primary";
        doc.spec.domain.firmware.serial = "VM-0042";
      }),
    ).vmi;
    expect(vmi?.spec.hostname).toBe("db-primary");
    expect(vmi?.spec.domain.firmware?.serial).toBe("VM-0042");
  });

  it("refuse what a hostname or an SMBIOS serial cannot be", () => {
    expectOneError(validateVmi(vmiWith((doc) => (doc.spec.hostname = "Db_1"))), "spec.hostname");
    expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.firmware.serial = "a b"))),
      "spec.domain.firmware.serial",
    );
  });
});

describe("spec.terminationGracePeriodSeconds", () => {
  it("is stored, KubeVirt's 30 when absent, 0 kept", () => {
    expect(validateVmi(vmiWith(() => {})).vmi?.spec.terminationGracePeriodSeconds).toBe(30);
    const now = validateVmi(vmiWith((doc) => (doc.spec.terminationGracePeriodSeconds = 0)));
    expect(now.warnings).toEqual([]);
    expect(now.vmi?.spec.terminationGracePeriodSeconds).toBe(0);
  });

  it.each([[-1], [1.5], ["30"], [86401]])("refuses %j", (value) => {
    const doc = vmiWith((doc) => (doc.spec.terminationGracePeriodSeconds = value));
    expectOneError(validateVmi(doc), "spec.terminationGracePeriodSeconds");
  });
});

describe("unknown fields", () => {
  it("are refused by name, listing the known ones", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.nics = [];
    });
    const error = expectOneError(validateVmi(doc), "spec.domain.devices.nics");
    expect(error.message).toBe(
      "spec.domain.devices.nics is not a known field (headroom knows: disks, interfaces, rng, autoattachGraphicsDevice, autoattachInputDevice, autoattachMemBalloon, autoattachPodInterface, autoattachSerialConsole, autoattachVSOCK, blockMultiQueue, disableHotplug, inputs, logSerialConsole, networkInterfaceMultiqueue, panicDevices, sound, tpm, useVirtioTransitional, video, watchdog)",
    );
  });

  it.each([
    ["colour", (doc: Doc) => (doc.colour = "blue")],
    ["metadata.title", (doc: Doc) => (doc.metadata.title = "x")],
    ["spec.domain.cpu.count", (doc: Doc) => (doc.spec.domain.cpu.count = 2)],
    [
      "spec.domain.devices.interfaces[0].masquerade.nat",
      (doc: Doc) => (doc.spec.domain.devices.interfaces[0].masquerade.nat = true),
    ],
    [
      "spec.domain.devices.rng.source",
      (doc: Doc) => (doc.spec.domain.devices.rng.source = "/dev/random"),
    ],
    [
      "spec.domain.resources.requests[nvidia.com/gpu]",
      (doc: Doc) => (doc.spec.domain.resources.requests["nvidia.com/gpu"] = 1),
    ],
    [
      "spec.volumes[0].containerDisk.tag",
      (doc: Doc) => (doc.spec.volumes[0].containerDisk.tag = "x"),
    ],
  ])("%s is refused by name", (field, change) => {
    const error = expectOneError(validateVmi(vmiWith(change)), field);
    expect(error.message).toMatch(new RegExp(`^${escapeRegExp(field)} is not a known field`));
  });

  it("say so when an object takes no fields", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces[1].bridge = { stp: true };
    });
    const field = "spec.domain.devices.interfaces[1].bridge.stp";
    expect(expectOneError(validateVmi(doc), field).message).toBe(
      `${field} is not a known field (this object takes no fields)`,
    );
  });
});

describe("metadata", () => {
  it.each([["vm1"], ["a"], ["web-01"], ["0"], ["a".repeat(63)]])("name %j is accepted", (name) => {
    expectValid(validateVmi(vmiWith((doc) => (doc.metadata.name = name))));
  });

  it.each([
    ["VM1"],
    ["web_01"],
    ["-web"],
    ["web-"],
    ["web.01"],
    ["web 01"],
    [""],
    ["a".repeat(64)],
    ["é"],
  ])("name %j is refused as not a DNS label", (name) => {
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.metadata.name = name))),
      "metadata.name",
    );
    expect(error.message).toContain("must be a DNS-1123 label");
  });

  it("requires a name", () => {
    expectOneError(validateVmi(vmiWith((doc) => delete doc.metadata.name)), "metadata.name");
  });

  it("refuses a namespace that is not a DNS label", () => {
    const doc = vmiWith((doc) => (doc.metadata.namespace = "Lab.One"));
    expectOneError(validateVmi(doc), "metadata.namespace");
  });

  it("defaults the namespace to default", () => {
    expect(validateVmi(baseVmi()).vmi?.metadata.namespace).toBe("default");
    const doc = vmiWith((doc) => (doc.metadata.namespace = "lab"));
    expect(validateVmi(doc).vmi?.metadata.namespace).toBe("lab");
  });

  it.each([
    [{ app: "demo" }],
    [{ "app.kubernetes.io/name": "web", tier: "" }],
    [{ "example.com/Owner_Name": "Team.A-1" }],
  ])("labels %j are accepted", (labels) => {
    expectValid(validateVmi(vmiWith((doc) => (doc.metadata.labels = labels))));
  });

  it.each([
    [{ "bad key": "x" }, "metadata.labels[bad key]"],
    [{ "-app": "x" }, "metadata.labels[-app]"],
    [{ "Example.com/app": "x" }, "metadata.labels[Example.com/app]"],
    [{ ["a".repeat(64)]: "x" }, `metadata.labels.${"a".repeat(64)}`],
    [{ app: "bad value" }, "metadata.labels.app"],
    [{ app: "a".repeat(64) }, "metadata.labels.app"],
    [{ app: 1 }, "metadata.labels.app"],
  ])("labels %j are refused at %s", (labels, field) => {
    expectOneError(validateVmi(vmiWith((doc) => (doc.metadata.labels = labels))), field);
  });

  it("takes at most 64 labels", () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, "x"]));
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.metadata.labels = labels))),
      "metadata.labels",
    );
    expect(error.message).toBe("metadata.labels has 65 entries; at most 64 are allowed");
  });
});

describe("types", () => {
  it.each([
    ["spec.domain.cpu.cores", (doc: Doc) => (doc.spec.domain.cpu.cores = "2"), "an integer"],
    ["spec.domain.cpu.cores", (doc: Doc) => (doc.spec.domain.cpu.cores = 1.5), "an integer"],
    ["spec.domain.devices.disks", (doc: Doc) => (doc.spec.domain.devices.disks = {}), "a list"],
    ["spec.networks[0]", (doc: Doc) => (doc.spec.networks[0] = "default"), "an object"],
    [
      "spec.domain.memory.guest",
      (doc: Doc) => (doc.spec.domain.memory.guest = true),
      "a string or a number",
    ],
    [
      "spec.domain.firmware.kernelBoot.kernelArgs",
      (doc: Doc) => (doc.spec.domain.firmware.kernelBoot.kernelArgs = ["a"]),
      "a string",
    ],
  ])("%s must be %s", (field, change, expected) => {
    const error = expectOneError(validateVmi(vmiWith(change)), field);
    expect(error.message).toContain(`must be ${expected}`);
  });
});

describe("bounds", () => {
  it.each([
    ["cores", 0],
    ["cores", 65],
    ["sockets", 0],
    ["threads", 65],
  ])("cpu %s %d is out of range", (key, value) => {
    const field = `spec.domain.cpu.${key}`;
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.cpu[key] = value))),
      field,
    );
    expect(error.message).toBe(`${field} must be between 1 and 64 (got ${value})`);
  });

  it("takes at most 16 disks", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.disks = Array.from({ length: 17 }, (_, i) => ({ name: `d${i}` }));
      doc.spec.volumes = Array.from({ length: 17 }, (_, i) => ({
        name: `d${i}`,
        emptyDisk: { capacity: "1Gi" },
      }));
    });
    expect(validateVmi(doc).errors.map((error) => error.field)).toEqual([
      "spec.domain.devices.disks",
      "spec.volumes",
    ]);
  });

  it("takes 16 disks", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.disks = Array.from({ length: 16 }, (_, i) => ({ name: `d${i}` }));
      doc.spec.volumes = Array.from({ length: 16 }, (_, i) => ({
        name: `d${i}`,
        emptyDisk: { capacity: "1Gi" },
      }));
    });
    expectValid(validateVmi(doc));
  });

  it("caps the number of errors it reports", () => {
    const doc = vmiWith((doc) => {
      doc.metadata.labels = Object.fromEntries(
        Array.from({ length: 60 }, (_, i) => [`l${i}`, "bad value"]),
      );
    });
    const errors = validateVmi(doc).errors;
    expect(errors).toHaveLength(51);
    expect(errors[50]).toEqual({ field: "", message: "and 10 more errors not shown" });
  });
});

describe("images", () => {
  it.each([
    ["headroom/tiny-guest"],
    ["tiny-guest"],
    ["registry:5000/kubevirt/fedora-with-test-tooling-container-disk:devel"],
    ["quay.io/containerdisks/fedora:39"],
    ["localhost/guest:latest"],
    ["a.b.example.com/x/y_z__w/v-1:1.0-rc_2"],
    [`quay.io/x/y@sha256:${"a".repeat(64)}`],
    [`quay.io/x/y:tag@sha256:${"0".repeat(64)}`],
  ])("%s is an image reference", (image) => {
    const doc = vmiWith((doc) => {
      doc.spec.volumes[0].containerDisk.image = image;
      doc.spec.domain.firmware.kernelBoot.container.image = image;
    });
    expectValid(validateVmi(doc));
  });

  it.each([
    ["bad image"],
    [""],
    ["Headroom/Guest"],
    ["headroom/guest:"],
    ["headroom//guest"],
    ["headroom/guest\n"],
    ["headroom/guest\u0000"],
    ["/guest"],
    ["guest@sha256:abc"],
    [`headroom/${"a".repeat(250)}`],
  ])("%j is refused", (image) => {
    const field = "spec.volumes[0].containerDisk.image";
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.volumes[0].containerDisk.image = image))),
      field,
    );
    expect(error.message).toContain("must be an image reference");
  });

  it("checks the kernel boot image too", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.firmware.kernelBoot.container.image = "not an image";
    });
    expectOneError(validateVmi(doc), "spec.domain.firmware.kernelBoot.container.image");
  });
});

describe("kernel boot", () => {
  const container = "spec.domain.firmware.kernelBoot.container";

  it.each([["/boot/vmlinuz"], ["/vmlinuz-6.1.0"], ["/a/b.c/d"]])(
    "kernelPath %s is accepted",
    (path) => {
      const doc = vmiWith(
        (doc) => (doc.spec.domain.firmware.kernelBoot.container.kernelPath = path),
      );
      expectValid(validateVmi(doc));
    },
  );

  it.each([
    ["boot/vmlinuz"],
    ["/boot/../etc/shadow"],
    ["/.."],
    ["/boot/\u0007"],
    [""],
    [`/${"a".repeat(255)}`],
  ])("kernelPath %j is refused", (path) => {
    const doc = vmiWith((doc) => (doc.spec.domain.firmware.kernelBoot.container.kernelPath = path));
    const error = expectOneError(validateVmi(doc), `${container}.kernelPath`);
    expect(error.message).toContain("must be an absolute path inside the image");
  });

  it("accepts names with dots that are not '..'", () => {
    const doc = vmiWith(
      (doc) => (doc.spec.domain.firmware.kernelBoot.container.initrdPath = "/boot/..initrd"),
    );
    expectValid(validateVmi(doc));
  });

  it("requires the container image and kernel path", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.firmware.kernelBoot.container = {}));
    expect(validateVmi(doc).errors.map((error) => error.field)).toEqual([
      `${container}.image`,
      `${container}.kernelPath`,
    ]);
  });

  it("makes the initrd optional", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.firmware.kernelBoot.container.initrdPath);
    expectValid(validateVmi(doc));
  });

  it.each([["Always"], ["IfNotPresent"], ["Never"]])("takes imagePullPolicy %s", (policy) => {
    const doc = vmiWith(
      (doc) => (doc.spec.domain.firmware.kernelBoot.container.imagePullPolicy = policy),
    );
    expect(validateVmi(doc).vmi?.spec.domain.firmware?.kernelBoot?.container.imagePullPolicy).toBe(
      policy,
    );
  });

  it("refuses another imagePullPolicy", () => {
    const doc = vmiWith(
      (doc) => (doc.spec.domain.firmware.kernelBoot.container.imagePullPolicy = "Sometimes"),
    );
    expectOneError(validateVmi(doc), `${container}.imagePullPolicy`);
  });

  it("takes a containerDisk's imagePullPolicy, and refuses another value", () => {
    const doc = vmiWith((doc) => (doc.spec.volumes[0].containerDisk.imagePullPolicy = "Never"));
    expect(validateVmi(doc).vmi?.spec.volumes[0]?.containerDisk?.imagePullPolicy).toBe("Never");
    const bad = vmiWith((doc) => (doc.spec.volumes[0].containerDisk.imagePullPolicy = "Sometimes"));
    expectOneError(validateVmi(bad), "spec.volumes[0].containerDisk.imagePullPolicy");
  });

  it("refuses control characters and overlong kernel arguments", () => {
    const field = "spec.domain.firmware.kernelBoot.kernelArgs";
    for (const args of ["console=ttyS0\nrdinit=/bin/sh", "x".repeat(1025)]) {
      const doc = vmiWith((doc) => (doc.spec.domain.firmware.kernelBoot.kernelArgs = args));
      expectOneError(validateVmi(doc), field);
    }
    const doc = vmiWith(
      (doc) => (doc.spec.domain.firmware.kernelBoot.kernelArgs = "x".repeat(1024)),
    );
    expectValid(validateVmi(doc));
  });

  it("is optional", () => {
    expectValid(validateVmi(vmiWith((doc) => delete doc.spec.domain.firmware)));
  });
});

describe("devices", () => {
  it.each([["virtio"], ["sata"], ["scsi"]])("disk bus %s is accepted", (bus) => {
    const doc = vmiWith((doc) => (doc.spec.domain.devices.disks[0].disk.bus = bus));
    expect(validateVmi(doc).vmi?.spec.domain.devices.disks[0]?.disk?.bus).toBe(bus);
  });

  it("stores a CD-ROM drive with KubeVirt's defaults: sata, read-only, tray closed", () => {
    const asCdrom = (cdrom: Doc) =>
      vmiWith((doc) => {
        delete doc.spec.domain.devices.disks[0].disk;
        doc.spec.domain.devices.disks[0].cdrom = cdrom;
      });
    expect(validateVmi(asCdrom({})).vmi?.spec.domain.devices.disks[0]).toEqual({
      name: "containerdisk",
      cdrom: { bus: "sata", readonly: true, tray: "closed" },
    });
    const scsi = validateVmi(asCdrom({ bus: "scsi", tray: "open", readonly: true }));
    expect(scsi.vmi?.spec.domain.devices.disks[0]?.cdrom).toEqual({
      bus: "scsi",
      readonly: true,
      tray: "open",
    });
    const at = "spec.domain.devices.disks[0].cdrom";
    expect(expectOneError(validateVmi(asCdrom({ bus: "virtio" })), `${at}.bus`).message).toBe(
      `${at}.bus must be one of: "sata", "scsi" (got "virtio")`,
    );
    expect(
      expectOneError(validateVmi(asCdrom({ readonly: false })), `${at}.readonly`).message,
    ).toBe(`${at}.readonly cannot be false: a CD-ROM drive is read-only`);
    const both = vmiWith((doc) => (doc.spec.domain.devices.disks[0].cdrom = {}));
    expect(expectOneError(validateVmi(both), "spec.domain.devices.disks[0]").message).toBe(
      "spec.domain.devices.disks[0] gives both disk and cdrom; a disk entry is one or the other",
    );
    const thread = vmiWith((doc) => {
      delete doc.spec.domain.devices.disks[0].disk;
      doc.spec.domain.devices.disks[0].cdrom = {};
      doc.spec.domain.devices.disks[0].dedicatedIOThread = true;
    });
    expect(
      expectOneError(validateVmi(thread), "spec.domain.devices.disks[0].dedicatedIOThread").message,
    ).toContain("(this one is a CD-ROM drive)");
  });

  it("refuses another disk bus", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.devices.disks[0].disk.bus = "ide"));
    const field = "spec.domain.devices.disks[0].disk.bus";
    expect(expectOneError(validateVmi(doc), field).message).toBe(
      `${field} must be one of: "virtio", "sata", "scsi" (got "ide")`,
    );
  });

  it("takes virtio, e1000, e1000e and rtl8139 as interface models", () => {
    for (const model of ["virtio", "e1000", "e1000e", "rtl8139"]) {
      const doc = vmiWith((doc) => (doc.spec.domain.devices.interfaces[0].model = model));
      expect(validateVmi(doc).vmi?.spec.domain.devices.interfaces[0]?.model).toBe(model);
    }
    const doc = vmiWith((doc) => (doc.spec.domain.devices.interfaces[0].model = "ne2k_pci"));
    const field = "spec.domain.devices.interfaces[0].model";
    expect(expectOneError(validateVmi(doc), field).message).toBe(
      `${field} must be one of: "virtio", "e1000", "e1000e", "rtl8139" (got "ne2k_pci")`,
    );
  });

  it("keeps a disk's bootOrder, serial and cache, and refuses two disks in one boot place", () => {
    const disk = { bootOrder: 1, serial: "HR-ROOT-1", cache: "none" };
    const kept = validateVmi(
      vmiWith((doc) => Object.assign(doc.spec.domain.devices.disks[0], disk)),
    );
    expect(kept.vmi?.spec.domain.devices.disks[0]).toEqual({
      name: "containerdisk",
      disk: { bus: "virtio" },
      ...disk,
    });
    const twice = vmiWith((doc) => {
      doc.spec.domain.devices.disks[0].bootOrder = 1;
      doc.spec.domain.devices.disks.push({ name: "scratch", bootOrder: 1 });
      doc.spec.volumes.push({ name: "scratch", emptyDisk: { capacity: "1Gi" } });
    });
    expect(
      expectOneError(validateVmi(twice), "spec.domain.devices.disks[1].bootOrder").message,
    ).toBe(
      "spec.domain.devices.disks[1].bootOrder 1 is already spec.domain.devices.disks[0]'s; each device boots in its own place",
    );
    const field = "spec.domain.devices.disks[0].serial";
    const bad = vmiWith((doc) => (doc.spec.domain.devices.disks[0].serial = "has space"));
    expect(expectOneError(validateVmi(bad), field).message).toContain("up to 20 letters, digits");
  });

  it.each([["02:00:00:00:00:01"], ["52:54:00:AB:cd:EF"]])("mac %s is accepted", (mac) => {
    const doc = vmiWith((doc) => (doc.spec.domain.devices.interfaces[0].macAddress = mac));
    expectValid(validateVmi(doc));
  });

  it.each([["52-54-00-ab-cd-ef"], ["52:54:00:ab:cd"], ["5254.00ab.cdef"], ["zz:54:00:ab:cd:ef"]])(
    "mac %s is refused",
    (mac) => {
      const doc = vmiWith((doc) => (doc.spec.domain.devices.interfaces[0].macAddress = mac));
      expectOneError(validateVmi(doc), "spec.domain.devices.interfaces[0].macAddress");
    },
  );

  it("takes multus network names as NAME or NAMESPACE/NAME, each a DNS label, and keeps them as written", () => {
    for (const name of ["some-nad", "ns/some-nad"]) {
      const result = validateVmi(
        vmiWith((doc) => (doc.spec.networks[1].multus.networkName = name)),
      );
      expectValid(result);
      expect(result.vmi?.spec.networks[1]?.multus?.networkName).toBe(name);
    }
    for (const name of [
      "a/b/c",
      "NS/some-nad",
      "ns/",
      "/some-nad",
      `${"n".repeat(64)}/x`,
      "some_nad",
    ]) {
      const doc = vmiWith((doc) => (doc.spec.networks[1].multus.networkName = name));
      expectOneError(validateVmi(doc), "spec.networks[1].multus.networkName");
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
