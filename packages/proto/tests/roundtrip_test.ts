import { describe, expect, it } from "vitest";
import * as proto from "../src/mod.ts";

const capacity = { requested: 5, interfaces: 2, effective: 5 };
const guestPort = { interface: "default", name: "http", port: 80, protocol: "TCP" };
const forwardedPort = {
  name: "http",
  port: 80,
  protocol: "TCP",
  hostAddress: "127.0.0.1",
  hostPort: 40080,
};
const vmiStatus = {
  phase: proto.Phase.PHASE_FAILED,
  reason: "no such network",
  node: "host-a",
  capacity: { interfaces: 1, effective: 1, free: 0, controllersAdded: 0, inUse: 1 },
  interfaces: [{ name: "default", mac: "52:54:00:00:00:01", pciAddress: "0000:01:00.0", state: 2 }],
  updatedUnixMs: 1_700_000_000_000,
  uid: "3f2c",
  observedGeneration: 3,
  domainName: "headroom-default-vm1",
};

// One filled-in sample of every message (camelCase is how protobufjs names fields).
const samples: Record<string, Record<string, unknown>> = {
  Capacity: capacity,
  FieldError: { field: "spec.domain", message: "is required" },
  ErrorReply: { code: "BAD_REQUEST", message: "not a protobuf ApplyRequest" },
  ApplyRequest: { manifestJson: '{"kind":"VirtualMachineInstance"}', dryRun: true },
  Accepted: {
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    generation: 7,
    outcome: proto.Outcome.OUTCOME_UPDATED,
    capacity,
    dryRun: true,
    warnings: [
      { field: "spec.nodeSelector", message: "spec.nodeSelector has no effect: one host" },
    ],
  },
  Rejected: {
    errors: [
      { field: "metadata.name", message: "is required" },
      { field: "spec", message: "is required" },
    ],
  },
  ApplyReply: { rejected: { errors: [{ field: "manifest", message: "is not JSON" }] } },
  DeleteRequest: { namespace: "default", name: "vm1" },
  DeleteReply: { deleted: true, message: "deleted", uid: "3f2c" },
  VmiRecord: {
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    generation: 2,
    manifestJson: "{}",
    capacity,
    status: vmiStatus,
    createdUnixMs: 1_700_000_000_000,
    updatedUnixMs: 1_700_000_000_001,
  },
  GetRequest: { namespace: "default", name: "vm1" },
  GetReply: { found: true, vmi: { namespace: "default", name: "vm1", generation: 1 } },
  ListRequest: { namespace: "default" },
  ListReply: { vmis: [{ name: "a" }, { name: "b" }] },
  CapacityStatus: {
    requested: 0,
    interfaces: 1,
    effective: 1,
    free: 0,
    controllersAdded: 2,
    inUse: 1,
  },
  InterfaceStatus: {
    name: "default",
    mac: "52:54:00:00:00:02",
    pciAddress: "0000:02:00.0",
    state: 3,
    ipAddress: "10.0.2.17",
    ports: [forwardedPort],
  },
  ForwardedPort: forwardedPort,
  VmiStatus: vmiStatus,
  CapacityEvent: {
    type: proto.CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    requested: 4,
    effective: 4,
    inUse: 5,
    free: 0,
    interfaceName: "eth5",
    message: "no room left",
    timestampUnixMs: 1_700_000_000_999,
    controllersAdded: 4,
    node: "host-a",
  },
  VmiAccepted: {
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    generation: 1,
    manifestJson: "{}",
    capacity,
    createdUnixMs: 1,
    acceptedUnixMs: 2,
  },
  VmiDeleted: {
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    generation: 4,
    terminationGracePeriodSeconds: 30,
  },
  InterfaceRefused: {
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    interfaceName: "extra6",
    refusalId: "5e1d",
  },
  DomainPlan: {
    namespace: "default",
    name: "vm1",
    uid: "3f2c",
    generation: 1,
    domainName: "headroom-default-vm1",
    domainUuid: "0b9f7c1e-6a0f-4a8e-9d6b-0f7f9a1b2c3d",
    domainXml: "<domain type='qemu'/>",
    placeholderCount: 2,
    machineType: "q35",
    capacity,
  },
  AddInterfaceRequest: {
    namespace: "default",
    name: "vm1",
    interfaceName: "eth2",
    networkName: "br-test",
    mac: "52:54:00:00:00:03",
  },
  RemoveInterfaceRequest: { namespace: "default", name: "vm1", interfaceName: "eth2" },
  InterfaceReply: {
    ok: false,
    reason: "EXHAUSTED",
    message: "no room left",
    interface: { name: "eth2", state: 4 },
    capacity: { interfaces: 1, effective: 4, free: 0, inUse: 4 },
    generation: 7,
  },
  DescribeRequest: { namespace: "default", name: "vm1" },
  DiskFile: {
    volumeName: "containerdisk",
    path: "/var/lib/headroom/vms/default/vm1/containerdisk.qcow2",
    image: "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0",
    imageDiskPath: "/disk/cirros.qcow2",
  },
  NetworkAttachment: {
    name: "headroom-bridge",
    bridge: "hr-br0",
    createdUnixMs: 1_700_000_000_000,
  },
  CreateNetworkRequest: { name: "headroom-bridge", bridge: "hr-br0" },
  CreateNetworkReply: { created: { name: "headroom-bridge", bridge: "hr-br0", createdUnixMs: 1 } },
  DeleteNetworkRequest: { name: "headroom-bridge" },
  DeleteNetworkReply: { deleted: false, message: "in use", usedBy: ["default/vm1"] },
  ListNetworksRequest: {},
  ListNetworksReply: {
    networks: [{ name: "headroom-bridge", bridge: "hr-br0", createdUnixMs: 1 }],
  },
  DescribeReply: { found: true, live: vmiStatus, message: "" },
  GuestResources: {
    memoryKib: 131072,
    vcpus: 2,
    machineType: "q35",
    bootloader: "efi",
    secureBoot: true,
    smm: true,
    firmwareUuid: "5d307ca9-b3ef-428c-8861-06e72d69f223",
    ports: [guestPort],
  },
  GuestPort: guestPort,
  HostDisk: { create: true, capacityBytes: 33_554_432 },
  VolumeClaim: { name: "data", readOnly: true },
  Volume: {
    name: "data",
    sizeBytes: 10_737_418_240,
    image: "headroom/tiny-guest",
    createdUnixMs: 1_700_000_000_000,
    usedBy: "default/vm1",
    node: "host-a",
  },
  CreateVolumeRequest: { name: "data", sizeBytes: 1_048_576, image: "" },
  CreateVolumeReply: { created: { name: "data", sizeBytes: 1_048_576 }, error: "" },
  ListVolumesRequest: {},
  ListVolumesReply: { volumes: [{ name: "data", sizeBytes: 1_048_576, usedBy: "" }] },
  DeleteVolumeRequest: { name: "data" },
  DeleteVolumeReply: { deleted: false, error: "volume data is used by default/vm1" },
  ConsoleLogRequest: {
    namespace: "default",
    name: "vm1",
    offset: -1,
    tailLines: 20,
    fileId: "2049:1234",
    waitMs: 5000,
    maxBytes: 65536,
  },
  ConsoleLogReply: {
    data: Buffer.from("hi\n"),
    nextOffset: 3,
    fileId: "2049:1234",
    size: 3,
    restarted: true,
  },
  DeleteImageRequest: { ref: "headroom/tiny-guest" },
  DeleteImageReply: { deleted: false, message: "used by default/vm1" },
  HeldImage: { ref: "headroom/tiny-guest", digest: "SHA-256=abc", sizeBytes: 1536 },
  HostRecord: {
    node: "host-a",
    images: [{ ref: "headroom/tiny-guest", digest: "", sizeBytes: 1 }],
    updatedUnixMs: 1_700_000_000_000,
  },
  Placement: {
    uid: "00000000-0000-4000-8000-000000000001",
    node: "",
    pendingReason: "0/3 hosts can run it: 3 lack memory",
    memoryBytes: 67_108_864,
    updatedUnixMs: 1_700_000_000_000,
  },
  CloudInitSeed: {
    kind: proto.CloudInitSeed.Kind.KIND_NOCLOUD,
    instanceId: "vm1.default",
    hostname: "vm1",
    userData: Buffer.from("#!"),
    networkData: Buffer.from("{}"),
  },
  PruneImagesRequest: { dryRun: true },
  PruneImagesReply: {
    node: "host-a",
    removed: [{ ref: "127.0.0.1:5000/lab/guest:1", digest: "sha256:00", sizeBytes: 2 }],
    otherRemoved: 3,
    keptBecause: "",
  },
};

interface Codec {
  encode(message: Record<string, unknown>): { finish(): Uint8Array };
  decode(bytes: Uint8Array): object;
  verify(message: Record<string, unknown>): string | null;
  toObject(message: object, options?: object): Record<string, unknown>;
}

// proto3 does not transmit zero values, except for fields declared `optional`.
const optionalFields = new Set(["requested"]);
function withoutDefaults(value: unknown): unknown {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((item) => withoutDefaults(item));
  if (value && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([k, v]) => optionalFields.has(k) || (v !== 0 && v !== false && v !== ""))
      .map(([k, v]) => [k, withoutDefaults(v)]);
    return Object.fromEntries(entries);
  }
  return value;
}

const messageNames = Object.keys(proto.v1).filter(
  (name) => typeof (proto.v1 as Record<string, unknown>)[name] === "function",
);

describe("headroom.v1 messages", () => {
  it("has a sample here for every generated message", () => {
    expect(messageNames.sort()).toEqual(Object.keys(samples).sort());
  });

  it("exports every generated message and enum from mod.ts", () => {
    for (const name of Object.keys(proto.v1)) {
      expect((proto as Record<string, unknown>)[name], name).toBe(
        (proto.v1 as Record<string, unknown>)[name],
      );
    }
  });

  for (const [name, sample] of Object.entries(samples)) {
    it(`round-trips ${name}`, () => {
      const type = (proto as unknown as Record<string, Codec>)[name] as Codec;
      expect(type.verify(sample)).toBeNull();
      const bytes = type.encode(sample).finish();
      // A message with no fields encodes to nothing, and that is right.
      expect(bytes.length > 0).toBe(Object.keys(sample).length > 0);
      const decoded = type.toObject(type.decode(bytes));
      expect(decoded).toEqual(withoutDefaults(sample));
    });
  }

  it("decodes 64-bit integers as plain numbers", () => {
    const bytes = proto.VmiAccepted.encode({
      generation: 2 ** 40,
      acceptedUnixMs: 1_700_000_000_123,
    }).finish();
    const decoded = proto.VmiAccepted.decode(bytes);
    expect(decoded.generation).toBe(2 ** 40);
    expect(decoded.acceptedUnixMs).toBe(1_700_000_000_123);
    expect(proto.VmiAccepted.decode(new Uint8Array()).generation).toBe(0);
  });

  it("tells an explicit zero request from no request", () => {
    const zero = proto.Capacity.decode(
      proto.Capacity.encode({ requested: 0, interfaces: 1, effective: 1 }).finish(),
    );
    const none = proto.Capacity.decode(
      proto.Capacity.encode({ interfaces: 1, effective: 1 }).finish(),
    );
    expect(zero.requested).toBe(0);
    expect(none.requested ?? null).toBeNull();
  });

  it("keeps the oneof of ApplyReply", () => {
    const reply = proto.ApplyReply.decode(
      proto.ApplyReply.encode({
        accepted: { name: "vm1", outcome: proto.Outcome.OUTCOME_CREATED },
      }).finish(),
    );
    expect(reply.result).toBe("accepted");
    expect(reply.accepted?.outcome).toBe(proto.Outcome.OUTCOME_CREATED);
    expect(reply.rejected ?? null).toBeNull();
  });

  it("carries a compose failure in a plan without a domain", () => {
    const failed = proto.DomainPlan.decode(
      proto.DomainPlan.encode({
        namespace: "default",
        name: "vm1",
        uid: "3f2c",
        generation: 2,
        domainName: "default_vm1",
        composeFailure: "spec.volumes[0].containerDisk.image: image x is not in the image store",
      }).finish(),
    );
    expect(failed.composeFailure).toBe(
      "spec.volumes[0].containerDisk.image: image x is not in the image store",
    );
    expect(failed.generation).toBe(2);
    expect(failed.domainXml).toBe("");
    // A plan composed as before has none.
    const composed = proto.DomainPlan.decode(
      proto.DomainPlan.encode(samples.DomainPlan as proto.IDomainPlan).finish(),
    );
    expect(composed.composeFailure).toBe("");
  });

  it("throws on bytes that are not protobuf", () => {
    expect(() =>
      proto.ApplyRequest.decode(new TextEncoder().encode("this is not protobuf")),
    ).toThrow();
    expect(() => proto.ApplyRequest.decode(Uint8Array.from([0x0a, 0x05, 0x61]))).toThrow();
  });
});
