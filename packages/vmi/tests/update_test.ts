import { describe, expect, it } from "vitest";
import { INTERFACE_RESOURCE, type Vmi, validateUpdate, validateVmi } from "../src/mod.ts";
import { baseVmi, type Doc, expectOneError, expectValid, vmiWith } from "./helpers.ts";

const REQUEST_FIELD = "spec.domain.resources.requests[kubevirt.io/interface]";

function stored(doc: Doc = baseVmi()): Vmi {
  const result = validateVmi(doc);
  if (!result.vmi) throw new Error(JSON.stringify(result.errors));
  return result.vmi;
}

describe("validateUpdate: re-applying", () => {
  it("accepts the same document", () => {
    const result = validateUpdate(stored(), baseVmi());
    expectValid(result);
    expect(result.vmi).toEqual(stored());
    expect(result.capacity).toEqual({ requested: 5, interfaces: 2, effective: 5 });
  });

  it("accepts the normalized VMI itself", () => {
    const vmi = stored();
    expectValid(validateUpdate(vmi, structuredClone(vmi)));
  });

  it("accepts the same request written differently", () => {
    for (const request of ["5", "5000m", 5]) {
      const doc = vmiWith(
        (doc) => (doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = request),
      );
      expectValid(validateUpdate(stored(), doc));
    }
  });

  it("accepts the same memory written differently", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.memory.guest = "134217728"));
    expectValid(validateUpdate(stored(), doc));
  });

  it("accepts spelled-out defaults", () => {
    const doc = vmiWith((doc) => {
      doc.metadata.namespace = "default";
      doc.spec.domain.machine = { type: "q35" };
      doc.spec.domain.devices.interfaces[0].model = "virtio";
    });
    expectValid(validateUpdate(stored(), doc));
  });

  it("still runs the rules", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = 33));
    expectOneError(validateUpdate(stored(), doc), REQUEST_FIELD);
  });
});

describe("validateUpdate: the interface request is immutable", () => {
  it("refuses a change", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = 6));
    const error = expectOneError(validateUpdate(stored(), doc), REQUEST_FIELD);
    expect(error.message).toBe(`${REQUEST_FIELD} is immutable: it is 5 and cannot change to 6`);
  });

  it("refuses removing it", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.resources);
    const error = expectOneError(validateUpdate(stored(), doc), REQUEST_FIELD);
    expect(error.message).toBe(`${REQUEST_FIELD} is immutable: it is 5 and cannot be removed`);
  });

  it("refuses removing it while keeping other requests", () => {
    const before = stored(vmiWith((doc) => (doc.spec.domain.resources.requests.memory = "128Mi")));
    const doc = vmiWith((doc) => {
      doc.spec.domain.resources.requests = { memory: "128Mi" };
    });
    expectOneError(validateUpdate(before, doc), REQUEST_FIELD);
  });

  it("refuses adding it later", () => {
    const before = stored(vmiWith((doc) => delete doc.spec.domain.resources));
    const error = expectOneError(validateUpdate(before, baseVmi()), REQUEST_FIELD);
    expect(error.message).toBe(
      `${REQUEST_FIELD} is immutable: the VMI was created without it, so it cannot be added`,
    );
  });

  it("refuses a change to 0", () => {
    const doc = vmiWith((doc) => (doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = "0"));
    expectOneError(validateUpdate(stored(), doc), REQUEST_FIELD);
  });
});

describe("validateUpdate: interfaces and networks may come and go", () => {
  it("accepts adding an interface with its network", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
      doc.spec.networks.push({ name: "third", multus: { networkName: "headroom-bridge" } });
    });
    const result = validateUpdate(stored(), doc);
    expectValid(result);
    expect(result.capacity).toEqual({ requested: 5, interfaces: 3, effective: 5 });
  });

  it("accepts adding interfaces beyond the request", () => {
    const doc = vmiWith((doc) => {
      for (const name of ["n3", "n4", "n5", "n6"]) {
        doc.spec.domain.devices.interfaces.push({ name, bridge: {} });
        doc.spec.networks.push({ name, multus: { networkName: "headroom-bridge" } });
      }
    });
    const result = validateUpdate(stored(), doc);
    expectValid(result);
    expect(result.capacity).toEqual({ requested: 5, interfaces: 6, effective: 6 });
  });

  it("accepts removing an interface with its network", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.pop();
      doc.spec.networks.pop();
    });
    expectValid(validateUpdate(stored(), doc));
  });

  it("accepts removing the first interface, shifting the others", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.shift();
      doc.spec.networks.shift();
    });
    expectValid(validateUpdate(stored(), doc));
  });

  it("still refuses an interface without its network", () => {
    const doc = vmiWith((doc) =>
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} }),
    );
    expectOneError(validateUpdate(stored(), doc), "spec.domain.devices.interfaces[2].name");
  });

  it("refuses changing an interface in place", () => {
    const doc = vmiWith(
      (doc) => (doc.spec.domain.devices.interfaces[1].macAddress = "52:54:00:00:00:09"),
    );
    const error = expectOneError(
      validateUpdate(stored(), doc),
      "spec.domain.devices.interfaces[1]",
    );
    expect(error.message).toBe(
      'spec.domain.devices.interfaces[1] ("secondary") cannot change in place; remove it in one update and add it back in another',
    );
  });

  it("refuses changing a network in place", () => {
    const doc = vmiWith((doc) => (doc.spec.networks[1].multus.networkName = "other-bridge"));
    expectOneError(validateUpdate(stored(), doc), "spec.networks[1]");
  });
});

describe("validateUpdate: labels may change", () => {
  it("accepts new, changed and removed labels", () => {
    for (const labels of [{ app: "other" }, { app: "demo", tier: "web" }, undefined]) {
      const doc = vmiWith((doc) => (doc.metadata.labels = labels));
      const result = validateUpdate(stored(), doc);
      expectValid(result);
      expect(result.vmi?.metadata.labels).toEqual(labels);
    }
  });
});

describe("validateUpdate: everything else is immutable", () => {
  it.each([
    ["metadata.name", (doc: Doc) => (doc.metadata.name = "vm2"), 'was "vm1", now "vm2"'],
    [
      "metadata.namespace",
      (doc: Doc) => (doc.metadata.namespace = "lab"),
      'was "default", now "lab"',
    ],
    [
      "spec.domain.machine.type",
      (doc: Doc) => (doc.spec.domain.machine = { type: "pc" }),
      'was "q35", now "pc"',
    ],
    ["spec.domain.cpu.cores", (doc: Doc) => (doc.spec.domain.cpu.cores = 2), "was 1, now 2"],
    [
      "spec.domain.cpu.threads",
      (doc: Doc) => delete doc.spec.domain.cpu.threads,
      "it was 1 and cannot be removed",
    ],
    [
      "spec.domain.memory.guest",
      (doc: Doc) => (doc.spec.domain.memory.guest = "256Mi"),
      'was "128Mi", now "256Mi"',
    ],
    [
      "spec.domain.resources.requests.memory",
      (doc: Doc) => (doc.spec.domain.resources.requests.memory = "128Mi"),
      'it was not set, now "128Mi"',
    ],
    [
      "spec.domain.resources.limits.memory",
      (doc: Doc) => (doc.spec.domain.resources.limits = { memory: "1Gi" }),
      'it was not set, now "1Gi"',
    ],
    [
      "spec.domain.devices.disks[0].disk.bus",
      (doc: Doc) => (doc.spec.domain.devices.disks[0].disk.bus = "sata"),
      'was "virtio", now "sata"',
    ],
    [
      "spec.domain.devices.rng",
      (doc: Doc) => delete doc.spec.domain.devices.rng,
      "it was {} and cannot be removed",
    ],
    [
      "spec.domain.firmware.kernelBoot.kernelArgs",
      (doc: Doc) => (doc.spec.domain.firmware.kernelBoot.kernelArgs = "quiet"),
      'was "console=ttyS0", now "quiet"',
    ],
    [
      "spec.domain.firmware.kernelBoot.container.image",
      (doc: Doc) => (doc.spec.domain.firmware.kernelBoot.container.image = "headroom/other"),
      'was "headroom/tiny-guest", now "headroom/other"',
    ],
    [
      "spec.volumes[0].containerDisk.image",
      (doc: Doc) => (doc.spec.volumes[0].containerDisk.image = "headroom/other"),
      'was "headroom/tiny-guest", now "headroom/other"',
    ],
  ])("%s", (field, change, detail) => {
    const error = expectOneError(validateUpdate(stored(), vmiWith(change)), field);
    expect(error.message).toBe(`${field} is immutable (${detail})`);
  });

  it("refuses adding a disk with its volume", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.disks.push({ name: "scratch" });
      doc.spec.volumes.push({ name: "scratch", emptyDisk: { capacity: "1Gi" } });
    });
    const errors = validateUpdate(stored(), doc).errors;
    expect(errors).toEqual([
      {
        field: "spec.domain.devices.disks",
        message: "spec.domain.devices.disks is immutable (1 entries before, 2 now)",
      },
      { field: "spec.volumes", message: "spec.volumes is immutable (1 entries before, 2 now)" },
    ]);
  });

  it("refuses removing the firmware", () => {
    const doc = vmiWith((doc) => delete doc.spec.domain.firmware);
    expectOneError(validateUpdate(stored(), doc), "spec.domain.firmware");
  });

  it("accepts the seed's rng place after devices.rng (both normalize to devices.rng)", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.devices.rng;
      doc.spec.domain.rng = {};
    });
    expectValid(validateUpdate(stored(), doc));
  });

  it("reports several immutable fields at once", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.machine = { type: "pc" };
      doc.spec.domain.cpu.cores = 2;
      doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = 7;
    });
    expect(validateUpdate(stored(), doc).errors.map((error) => error.field)).toEqual([
      REQUEST_FIELD,
      "spec.domain.cpu.cores",
      "spec.domain.machine.type",
    ]);
  });
});

describe("boot order of an added interface", () => {
  it("is refused: the boot order is fixed when the VMI starts", () => {
    const next = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {}, bootOrder: 3 });
      doc.spec.networks.push({ name: "third", multus: { networkName: "headroom-bridge" } });
    });
    const field = "spec.domain.devices.interfaces[2].bootOrder";
    expect(expectOneError(validateUpdate(stored(), next), field).message).toBe(
      `${field}: the boot order is fixed when the VMI starts, so an interface added later cannot have one`,
    );
    const without = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
      doc.spec.networks.push({ name: "third", multus: { networkName: "headroom-bridge" } });
    });
    expectValid(validateUpdate(stored(), without));
  });
});
