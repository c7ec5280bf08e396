import { CapacityEventType, type IVmiRecord, type IVmiStatus, Phase } from "@headroom/proto";
import { describe, expect, it } from "vitest";
import { formatDescription, vmiDescription } from "../src/describe-view.ts";
import { eventObject, eventRow } from "../src/event-view.ts";

const manifest = {
  apiVersion: "kubevirt.io/v1",
  kind: "VirtualMachineInstance",
  metadata: { name: "web", namespace: "lab" },
  spec: {
    domain: {
      machine: { type: "pc" },
      devices: {
        interfaces: [
          { name: "default", masquerade: {} },
          { name: "secondary", bridge: {}, macAddress: "02:00:00:00:00:02" },
          { name: "third", bridge: {} },
        ],
      },
    },
    networks: [
      { name: "default", pod: {} },
      { name: "secondary", multus: { networkName: "lab-net" } },
      { name: "third", multus: { networkName: "lab-net" } },
    ],
  },
};

const stored: IVmiStatus = {
  phase: Phase.PHASE_RUNNING,
  reason: "third: attach failed: something",
  node: "node-1",
  uid: "u1",
  observedGeneration: 2,
  capacity: { requested: 5, interfaces: 3, effective: 5, free: 2, controllersAdded: 4, inUse: 3 },
  interfaces: [
    { name: "default", mac: "52:54:00:00:00:01", pciAddress: "0000:01:00.0", state: 2 },
    { name: "third", state: 4 },
  ],
};

const record: IVmiRecord = {
  namespace: "lab",
  name: "web",
  uid: "u1",
  generation: 2,
  manifestJson: JSON.stringify(manifest),
  capacity: { requested: 5, interfaces: 3, effective: 5 },
  status: stored,
  createdUnixMs: 0,
};

/** What the launcher reads from the domain: secondary attached, and a NIC the manifest no longer has. */
const live: IVmiStatus = {
  ...stored,
  reason: "",
  capacity: { ...stored.capacity, inUse: 3, free: 2 },
  interfaces: [
    {
      name: "default",
      mac: "52:54:00:00:00:01",
      pciAddress: "0000:01:00.0",
      state: 2,
      ipAddress: "10.0.2.7",
      ports: [
        { name: "http", port: 80, protocol: "TCP", hostAddress: "127.0.0.1", hostPort: 40080 },
      ],
    },
    { name: "secondary", mac: "02:00:00:00:00:02", pciAddress: "0000:02:00.0", state: 2 },
    { name: "old", mac: "52:54:00:00:00:09", pciAddress: "0000:07:00.0", state: 2 },
  ],
};

describe("vmiDescription", () => {
  it("takes capacity and NICs from the live view, networks from the manifest, and keeps stored failures", () => {
    const d = vmiDescription(record, { live }, []);
    expect(d.capacity).toEqual({
      source: "live",
      note: "",
      requested: 5,
      effective: 5,
      inUse: 3,
      free: 2,
      controllersAdded: 4,
    });
    expect(d.machineType).toBe("pc");
    expect(d.reason).toBe("third: attach failed: something");
    expect(d.interfaces).toEqual([
      {
        name: "default",
        network: "pod",
        mac: "52:54:00:00:00:01",
        pciAddress: "0000:01:00.0",
        state: "Attached",
        ipAddress: "10.0.2.7",
        ports: [
          { name: "http", port: 80, protocol: "TCP", hostAddress: "127.0.0.1", hostPort: 40080 },
        ],
      },
      {
        name: "secondary",
        network: "lab-net",
        mac: "02:00:00:00:00:02",
        pciAddress: "0000:02:00.0",
        state: "Attached",
        ipAddress: "<none>",
        ports: [],
      },
      {
        name: "third",
        network: "lab-net",
        mac: "<none>",
        pciAddress: "<none>",
        state: "Failed",
        ipAddress: "<none>",
        ports: [],
      },
      {
        name: "old",
        network: "<none>",
        mac: "52:54:00:00:00:09",
        pciAddress: "0000:07:00.0",
        state: "Attached",
        ipAddress: "<none>",
        ports: [],
      },
    ]);
  });

  it("falls back to the stored status with the note, and a VMI never reported on is Pending", () => {
    const d = vmiDescription(record, { note: "vmi lab/web has no running domain on node-1" }, []);
    expect(d.capacity.source).toBe("stored");
    expect(d.interfaces.map((i) => i.state)).toEqual(["Attached", "Pending", "Failed"]);
    const text = formatDescription(d, 0);
    expect(text).toContain(
      "Capacity:      (stored status: vmi lab/web has no running domain on node-1)\n",
    );
    expect(text).toContain("Reason:        third: attach failed: something\n");
    expect(text).toContain("Events:        <none>\n");

    const { status: _, ...unreported } = record;
    const pending = vmiDescription(unreported, { note: "not running" }, []);
    expect(pending.phase).toBe("Pending");
    expect(pending.node).toBe("");
    expect(pending.capacity).toMatchObject({ effective: 5, inUse: 0, free: 2 });
  });

  it("prints the capacity block and events with ages", () => {
    const event = {
      type: CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
      namespace: "lab",
      name: "web",
      uid: "u1",
      requested: 5,
      effective: 5,
      inUse: 5,
      free: 0,
      interfaceName: "extra",
      message: "no free slot",
      timestampUnixMs: 1_000,
    };
    const text = formatDescription(vmiDescription(record, { live }, [event]), 61_000);
    expect(text).toContain(
      [
        "Capacity:      (live)",
        "  Requested:          5",
        "  Effective:          5",
        "  In use:             3",
        "  Free:               2",
        "  Controllers added:  4",
      ].join("\n"),
    );
    expect(text).toMatch(
      /^ {2}default +pod +52:54:00:00:00:01 +10\.0\.2\.7 +0000:01:00\.0 +Attached$/m,
    );
    expect(text).toMatch(
      /^ {2}secondary +lab-net +02:00:00:00:00:02 +<none> +0000:02:00\.0 +Attached$/m,
    );
    expect(text).toMatch(
      /^Ports:\n {2}INTERFACE +NAME +PORT +HOST\n {2}default +http +80\/TCP +127\.0\.0\.1:40080\n/m,
    );
    expect(text).toMatch(
      /^Events:\n {2}TYPE +INTERFACE +IN-USE +FREE +AGE +MESSAGE\n {2}exhausted +extra +5 +0 +60s +no free slot\n$/m,
    );
  });

  it("has no Ports section when nothing is forwarded", () => {
    expect(formatDescription(vmiDescription(record, { note: "none" }, []), 0)).not.toContain(
      "Ports:",
    );
  });
});

describe("eventRow", () => {
  it("shows <none> for no interface and no request, the time to the second", () => {
    const row = eventRow(
      eventObject({
        type: CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED,
        namespace: "lab",
        name: "web",
        effective: 1,
        timestampUnixMs: Date.parse("2030-01-02T03:04:05.678Z"),
        message: "two\nlines",
      }),
    );
    expect(row).toEqual([
      "2030-01-02T03:04:05Z",
      "lab/web",
      "released",
      "<none>",
      "<none>",
      "1",
      "0",
      "0",
      "two lines",
    ]);
  });
});
