import { describe, expect, it } from "vitest";
import {
  INTERFACE_RESOURCE,
  interfaceCapacity,
  type Vmi,
  validateVmi,
  vmiKey,
} from "../src/mod.ts";
import { expectOneError, expectValid, vmiWith } from "./helpers.ts";

const REQUEST_FIELD = "spec.domain.resources.requests[kubevirt.io/interface]";
const LIMIT_FIELD = "spec.domain.resources.limits[kubevirt.io/interface]";
const KUBEVIRT_MESSAGE = "provided resources interface requests must be an integer between 0 to 32";

function withRequest(value: unknown) {
  return vmiWith((doc) => {
    doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = value;
  });
}

describe("kubevirt.io/interface request: valid values", () => {
  it.each([
    [5, 5],
    ["5", 5],
    ["10000m", 10],
    [0, 0],
    [32, 32],
    ["0", 0],
    ["32", 32],
    ["5.0", 5],
    ["1e1", 10],
  ])("%j is accepted as %d", (value, expected) => {
    const result = validateVmi(withRequest(value));
    expectValid(result);
    expect(result.capacity?.requested).toBe(expected);
  });
});

describe("kubevirt.io/interface request: invalid values", () => {
  it.each([
    [1.2],
    ["1.2"],
    [-2],
    ["-2"],
    [33],
    ["33"],
    ["1M"],
    ["abc"],
    [""],
    ["1Ki"],
    ["500m"],
    [true],
    [false],
    [null],
    [{}],
    [[5]],
  ])("%j is refused with KubeVirt's message", (value) => {
    const error = expectOneError(validateVmi(withRequest(value)), REQUEST_FIELD);
    expect(error.message).toContain(KUBEVIRT_MESSAGE);
  });

  it("shows the value it got", () => {
    const error = expectOneError(validateVmi(withRequest("1M")), REQUEST_FIELD);
    expect(error.message).toBe(`${REQUEST_FIELD}: ${KUBEVIRT_MESSAGE} (got "1M")`);
  });
});

describe("kubevirt.io/interface under limits", () => {
  it("is refused on its own", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.resources.requests;
      doc.spec.domain.resources.limits = { [INTERFACE_RESOURCE]: 5 };
    });
    const error = expectOneError(validateVmi(doc), LIMIT_FIELD);
    expect(error.message).toBe(
      `${LIMIT_FIELD} is not accepted: kubevirt.io/interface may be given only under spec.domain.resources.requests`,
    );
  });

  it("is refused even when requests has it too", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.resources.limits = { [INTERFACE_RESOURCE]: 5 };
    });
    expectOneError(validateVmi(doc), LIMIT_FIELD);
  });

  it("is refused next to a valid memory limit", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.resources.limits = { memory: "1Gi", [INTERFACE_RESOURCE]: 5 };
    });
    expectOneError(validateVmi(doc), LIMIT_FIELD);
  });
});

describe("capacity", () => {
  it("is the request when above the number of interfaces", () => {
    expect(validateVmi(withRequest(5)).capacity).toEqual({
      requested: 5,
      interfaces: 2,
      effective: 5,
    });
  });

  it.each([
    [0, 2],
    [1, 2],
    [2, 2],
  ])("a request of %d below or at the interface count has no effect", (request, effective) => {
    const result = validateVmi(withRequest(request));
    expectValid(result);
    expect(result.capacity).toEqual({ requested: request, interfaces: 2, effective });
  });

  it("is the interface count without a request", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.resources;
    });
    const result = validateVmi(doc);
    expectValid(result);
    expect(result.capacity).toEqual({ requested: null, interfaces: 2, effective: 2 });
  });

  it("is the request for a VMI without interfaces", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces = [];
      doc.spec.domain.devices.autoattachPodInterface = false;
      doc.spec.networks = [];
    });
    expect(validateVmi(doc).capacity).toEqual({ requested: 5, interfaces: 0, effective: 5 });
  });

  it("counts the pod interface KubeVirt adds to a VMI that names none", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.devices.interfaces;
      delete doc.spec.networks;
    });
    expect(validateVmi(doc).capacity).toEqual({ requested: 5, interfaces: 1, effective: 5 });
  });

  it("is zero for a VMI without interfaces or request", () => {
    const doc = vmiWith((doc) => {
      delete doc.spec.domain.devices.interfaces;
      doc.spec.domain.devices.autoattachPodInterface = false;
      delete doc.spec.networks;
      delete doc.spec.domain.resources;
    });
    expect(validateVmi(doc).capacity).toEqual({ requested: null, interfaces: 0, effective: 0 });
  });

  it("reads the request written as milli-units", () => {
    const result = validateVmi(withRequest("10000m"));
    expect(result.capacity).toEqual({ requested: 10, interfaces: 2, effective: 10 });
  });

  it("fits 32 interfaces with the maximum request", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces = Array.from({ length: 32 }, (_, i) => ({
        name: `net${i}`,
        ...(i === 0 ? { masquerade: {} } : { bridge: {} }),
      }));
      doc.spec.networks = Array.from({ length: 32 }, (_, i) => ({
        name: `net${i}`,
        ...(i === 0 ? { pod: {} } : { multus: { networkName: "headroom-bridge" } }),
      }));
      doc.spec.domain.resources.requests[INTERFACE_RESOURCE] = 32;
    });
    const result = validateVmi(doc);
    expectValid(result);
    expect(result.capacity).toEqual({ requested: 32, interfaces: 32, effective: 32 });
  });

  it("refuses a 33rd interface", () => {
    const doc = vmiWith((doc) => {
      doc.spec.domain.devices.interfaces = Array.from({ length: 33 }, (_, i) => ({
        name: `net${i}`,
        bridge: {},
      }));
      doc.spec.networks = Array.from({ length: 33 }, (_, i) => ({
        name: `net${i}`,
        multus: { networkName: "headroom-bridge" },
      }));
    });
    const result = validateVmi(doc);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      {
        field: "spec.domain.devices.interfaces",
        message: "spec.domain.devices.interfaces has 33 entries; at most 32 are allowed",
      },
      { field: "spec.networks", message: "spec.networks has 33 entries; at most 32 are allowed" },
    ]);
  });

  it("interfaceCapacity agrees with validateVmi", () => {
    const result = validateVmi(withRequest("3"));
    const vmi = result.vmi as Vmi;
    expect(interfaceCapacity(vmi)).toEqual(result.capacity);
  });
});

describe("vmiKey", () => {
  it("joins namespace and name", () => {
    expect(vmiKey({ metadata: { namespace: "lab", name: "vm1" } })).toBe("lab.vm1");
  });

  it("uses the default namespace", () => {
    expect(vmiKey({ metadata: { name: "vm1" } })).toBe("default.vm1");
    const vmi = validateVmi(withRequest(5)).vmi as Vmi;
    expect(vmiKey(vmi)).toBe("default.vm1");
  });
});
