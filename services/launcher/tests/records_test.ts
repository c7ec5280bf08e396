import { CapacityEventType, exhaustedMessage, InterfaceState, Phase } from "@headroom/proto";
import { describe, expect, it } from "vitest";
import { capacityEvent, runningStatus, vmiInterfaces } from "../src/records.ts";

const nic = (alias: string, pci: string) => ({
  type: "network",
  alias,
  mac: "52:54:00:00:00:01",
  pciAddress: pci,
  placeholder: false,
});

describe("runningStatus", () => {
  it("counts only the VMI's NICs as in use, and free slots as free", () => {
    const status = runningStatus({
      uid: "u",
      generation: 2,
      domainName: "ns_a",
      node: "host",
      capacity: { requested: 5, interfaces: 2, effective: 5 },
      freeSlots: [
        { bus: 3, slot: 0, controller: "pci.3" },
        { bus: 4, slot: 0, controller: "pci.4" },
      ],
      controllersAdded: 3,
      interfaces: [nic("ua-net-default", "0000:01:00.0"), nic("net9", "0000:09:00.0")],
      nowMs: 1,
    });
    expect(status.phase).toBe(Phase.PHASE_RUNNING);
    expect(status.capacity).toEqual({
      requested: 5,
      interfaces: 2,
      effective: 5,
      free: 2,
      controllersAdded: 3,
      inUse: 1,
    });
    expect(status.interfaces).toEqual([
      {
        name: "default",
        mac: "52:54:00:00:00:01",
        pciAddress: "0000:01:00.0",
        state: InterfaceState.INTERFACE_STATE_ATTACHED,
      },
    ]);
  });

  it("leaves requested out when the VMI asked for no reservation", () => {
    const status = runningStatus({
      uid: "u",
      generation: 1,
      domainName: "d",
      node: "n",
      capacity: { interfaces: 1, effective: 1 },
      freeSlots: [],
      controllersAdded: 0,
      interfaces: [],
      nowMs: 1,
    });
    expect(status.capacity && "requested" in status.capacity).toBe(false);
  });
});

describe("vmiInterfaces", () => {
  it("ignores NICs without a headroom alias", () => {
    expect(vmiInterfaces([nic("ua-placeholder-1", ""), nic("net0", "")])).toEqual([]);
  });
});

describe("capacityEvent and exhaustedMessage", () => {
  const vmi = { namespace: "lab", name: "web", uid: "u1" };
  const status = {
    node: "h",
    capacity: { requested: 5, effective: 5, inUse: 5, free: 0, controllersAdded: 3 },
  };

  it("carries the counts of the status", () => {
    const event = capacityEvent(CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED, vmi, status, {
      interfaceName: "x",
      nowMs: 42,
    });
    expect(event).toMatchObject({
      requested: 5,
      effective: 5,
      inUse: 5,
      free: 0,
      interfaceName: "x",
      timestampUnixMs: 42,
    });
  });

  it("says which VMI, what it asked for and how many are in use", () => {
    expect(exhaustedMessage(vmi, status.capacity, "extra")).toBe(
      "vmi lab/web has no free slot for interface extra: it asked for 5 (effective 5), 5 in use, 0 free",
    );
  });
});
