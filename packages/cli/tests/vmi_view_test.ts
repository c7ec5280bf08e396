import { InterfaceState, type IVmiRecord, Phase } from "@headroom/proto";
import { describe, expect, it } from "vitest";
import { currentStatus, phaseName, statusView, vmiObject, vmiRow } from "../src/vmi-view.ts";

const CREATED = Date.parse("2025-01-02T03:04:05.678Z");

const manifest = {
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachineInstance",
  metadata: { name: "web", namespace: "lab", labels: { app: "web" } },
  spec: { domain: { devices: { interfaces: [] } } },
};

function record(change: Partial<IVmiRecord> = {}): IVmiRecord {
  return {
    namespace: "lab",
    name: "web",
    uid: "uid-1",
    generation: 2,
    manifestJson: JSON.stringify(manifest),
    capacity: { requested: 5, interfaces: 2, effective: 5 },
    status: null,
    createdUnixMs: CREATED,
    updatedUnixMs: CREATED,
    ...change,
  };
}

const running = {
  phase: Phase.PHASE_RUNNING,
  reason: "",
  node: "node-1",
  uid: "uid-1",
  observedGeneration: 2,
  capacity: { requested: 5, interfaces: 3, effective: 5, free: 2, controllersAdded: 4, inUse: 3 },
  interfaces: [
    {
      name: "default",
      mac: "52:54:00:00:00:01",
      pciAddress: "0000:01:00.0",
      state: InterfaceState.INTERFACE_STATE_ATTACHED,
    },
  ],
};

describe("vmiObject", () => {
  it("is the manifest with uid, generation, creationTimestamp and a Pending status", () => {
    expect(vmiObject(record())).toEqual({
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachineInstance",
      metadata: {
        name: "web",
        namespace: "lab",
        labels: { app: "web" },
        uid: "uid-1",
        generation: 2,
        creationTimestamp: "2025-01-02T03:04:05Z",
      },
      spec: manifest.spec,
      status: {
        phase: "Pending",
        reason: "",
        node: "",
        capacity: {
          requested: 5,
          interfaces: 2,
          effective: 5,
          free: 3,
          controllersAdded: 0,
          inUse: 0,
        },
        interfaces: [],
      },
    });
  });

  it("puts apiVersion, kind, metadata, spec first and status last", () => {
    expect(Object.keys(vmiObject(record({ status: running })))).toEqual([
      "apiVersion",
      "kind",
      "metadata",
      "spec",
      "status",
    ]);
  });

  it("shows the launcher's status in camelCase", () => {
    expect(vmiObject(record({ status: running })).status).toEqual({
      phase: "Running",
      reason: "",
      node: "node-1",
      capacity: {
        requested: 5,
        interfaces: 3,
        effective: 5,
        free: 2,
        controllersAdded: 4,
        inUse: 3,
      },
      interfaces: [
        {
          name: "default",
          mac: "52:54:00:00:00:01",
          pciAddress: "0000:01:00.0",
          state: "Attached",
        },
      ],
    });
  });

  it("says requested null when the VMI asks for no room", () => {
    const view = statusView(record({ capacity: { interfaces: 1, effective: 1 } }));
    expect(view.capacity.requested).toBeNull();
    expect(view.capacity.free).toBe(0);
  });

  it("keeps a Failed reason", () => {
    const failed = { ...running, phase: Phase.PHASE_FAILED, reason: "no more PCI slots" };
    expect(statusView(record({ status: failed }))).toMatchObject({
      phase: "Failed",
      reason: "no more PCI slots",
    });
  });
});

describe("currentStatus", () => {
  it("ignores a status left by an earlier VMI of the same name", () => {
    const stale = { ...running, uid: "uid-0" };
    expect(currentStatus(record({ status: stale }))).toBeNull();
    expect(statusView(record({ status: stale })).phase).toBe("Pending");
  });

  it("takes a status of this VMI", () => {
    expect(currentStatus(record({ status: running }))?.node).toBe("node-1");
  });
});

describe("vmiRow", () => {
  it("is NAME PHASE CAPACITY FREE NODE AGE", () => {
    expect(vmiRow(record(), CREATED + 75_000)).toEqual([
      "web",
      "Pending",
      "5",
      "3",
      "<none>",
      "75s",
    ]);
    expect(vmiRow(record({ status: running }), CREATED + 3_600_000)).toEqual([
      "web",
      "Running",
      "5",
      "2",
      "node-1",
      "60m",
    ]);
  });

  it("adds REQUESTED IN-USE CONTROLLERS REASON when wide", () => {
    expect(vmiRow(record({ status: running }), CREATED, true).slice(6)).toEqual([
      "5",
      "3",
      "4",
      "<none>",
    ]);
    expect(vmiRow(record({ capacity: { interfaces: 1, effective: 1 } }), CREATED, true)).toEqual([
      "web",
      "Pending",
      "1",
      "0",
      "<none>",
      "0s",
      "<none>",
      "0",
      "0",
      "<none>",
    ]);
  });

  it("shows a Pending VMI's host once placed, and why none is while none can run it", () => {
    const waiting = record({ pendingReason: "0/2 hosts can run it: 2 lack memory" });
    expect(statusView(waiting)).toMatchObject({
      phase: "Pending",
      reason: "0/2 hosts can run it: 2 lack memory",
      node: "",
    });
    expect(statusView(record({ node: "node-2" })).node).toBe("node-2");
  });
});

describe("phaseName", () => {
  it("names every phase", () => {
    expect(
      [
        Phase.PHASE_PENDING,
        Phase.PHASE_SCHEDULED,
        Phase.PHASE_RUNNING,
        Phase.PHASE_FAILED,
        Phase.PHASE_DELETING,
        Phase.PHASE_UNSPECIFIED,
      ].map(phaseName),
    ).toEqual(["Pending", "Scheduled", "Running", "Failed", "Deleting", "Unknown"]);
  });
});
