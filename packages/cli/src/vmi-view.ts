// A stored VMI (IVmiRecord) as the user sees it: a Kubernetes-style object for
// -o json|yaml, and a table row.
import { InterfaceState, type IVmiRecord, type IVmiStatus, Phase } from "@headroom/proto";
import { formatAge } from "./output.ts";

export const PHASE_NAMES: Record<number, string> = {
  [Phase.PHASE_UNSPECIFIED]: "Unknown",
  [Phase.PHASE_PENDING]: "Pending",
  [Phase.PHASE_SCHEDULED]: "Scheduled",
  [Phase.PHASE_RUNNING]: "Running",
  [Phase.PHASE_FAILED]: "Failed",
  [Phase.PHASE_DELETING]: "Deleting",
  [Phase.PHASE_UNKNOWN]: "Unknown",
};

const INTERFACE_STATE_NAMES: Record<number, string> = {
  [InterfaceState.INTERFACE_STATE_UNSPECIFIED]: "Unknown",
  [InterfaceState.INTERFACE_STATE_PENDING]: "Pending",
  [InterfaceState.INTERFACE_STATE_ATTACHED]: "Attached",
  [InterfaceState.INTERFACE_STATE_DETACHING]: "Detaching",
  [InterfaceState.INTERFACE_STATE_FAILED]: "Failed",
};

export function phaseName(phase: Phase | null | undefined): string {
  return PHASE_NAMES[phase ?? Phase.PHASE_UNSPECIFIED] ?? "Unknown";
}

/**
 * The record's status when it describes this VMI; a status left by an
 * earlier VMI of the same name (another uid) does not count.
 */
export function currentStatus(record: IVmiRecord): IVmiStatus | null {
  const status = record.status;
  if (!status) return null;
  if (status.uid && record.uid && status.uid !== record.uid) return null;
  return status;
}

export interface VmiStatusView {
  phase: string;
  reason: string;
  node: string;
  capacity: {
    requested: number | null;
    interfaces: number;
    effective: number;
    free: number;
    controllersAdded: number;
    inUse: number;
  };
  interfaces: InterfaceView[];
}

export interface InterfaceView {
  name: string;
  mac: string;
  pciAddress: string;
  state: string;
  /** The guest's address on the pod network (live views only, once it has a lease). */
  ipAddress?: string;
  /** Guest ports the host forwards to, and where. */
  ports?: PortView[];
}

export interface PortView {
  name: string;
  port: number;
  protocol: string;
  hostAddress: string;
  hostPort: number;
}

/**
 * The status part of the object. Without a status from a launcher the VMI is
 * Pending, and its capacity is the one the validator computed: nothing in use
 * yet, every interface beyond the declared ones free.
 */
export function statusView(record: IVmiRecord): VmiStatusView {
  const status = currentStatus(record);
  const planned = record.capacity;
  if (!status) {
    const interfaces = planned?.interfaces ?? 0;
    const effective = planned?.effective ?? 0;
    return {
      phase: "Pending",
      reason: record.pendingReason ?? "",
      node: record.node ?? "",
      capacity: {
        requested: planned?.requested ?? null,
        interfaces,
        effective,
        free: Math.max(0, effective - interfaces),
        controllersAdded: 0,
        inUse: 0,
      },
      interfaces: [],
    };
  }
  const live = status.capacity;
  return {
    phase: phaseName(status.phase),
    reason: status.reason ?? "",
    node: status.node || record.node || "",
    capacity: {
      requested: live?.requested ?? planned?.requested ?? null,
      interfaces: live?.interfaces ?? planned?.interfaces ?? 0,
      effective: live?.effective ?? planned?.effective ?? 0,
      free: live?.free ?? 0,
      controllersAdded: live?.controllersAdded ?? 0,
      inUse: live?.inUse ?? 0,
    },
    interfaces: (status.interfaces ?? []).map((iface) => ({
      name: iface.name ?? "",
      mac: iface.mac ?? "",
      pciAddress: iface.pciAddress ?? "",
      state:
        INTERFACE_STATE_NAMES[iface.state ?? InterfaceState.INTERFACE_STATE_UNSPECIFIED] ??
        "Unknown",
      ...(iface.ipAddress ? { ipAddress: iface.ipAddress } : {}),
      ...(iface.ports?.length
        ? {
            ports: iface.ports.map((port) => ({
              name: port.name ?? "",
              port: port.port ?? 0,
              protocol: port.protocol ?? "TCP",
              hostAddress: port.hostAddress ?? "",
              hostPort: port.hostPort ?? 0,
            })),
          }
        : {}),
    })),
  };
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
function timestamp(unixMs: number): string {
  return new Date(unixMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * The VMI as Kubernetes would show it: the accepted manifest, with uid,
 * generation and creationTimestamp in its metadata, and its status.
 */
export function vmiObject(record: IVmiRecord): Record<string, unknown> {
  const manifest = JSON.parse(record.manifestJson || "{}") as Record<string, unknown>;
  const { apiVersion, kind, metadata, spec, ...rest } = manifest;
  return {
    apiVersion,
    kind,
    metadata: {
      ...(metadata as Record<string, unknown>),
      namespace: record.namespace,
      uid: record.uid,
      generation: record.generation,
      creationTimestamp: timestamp(record.createdUnixMs ?? 0),
    },
    spec,
    ...rest,
    status: statusView(record),
  };
}

export const VMI_COLUMNS = ["NAME", "PHASE", "CAPACITY", "FREE", "NODE", "AGE"];
export const VMI_WIDE_COLUMNS = ["REQUESTED", "IN-USE", "CONTROLLERS", "REASON"];

/** One table row: NAME PHASE CAPACITY FREE NODE AGE, and with `wide` the columns after. */
export function vmiRow(record: IVmiRecord, nowMs: number, wide = false): string[] {
  const { phase, reason, node, capacity } = statusView(record);
  const row = [
    record.name ?? "",
    phase,
    String(capacity.effective),
    String(capacity.free),
    node || "<none>",
    formatAge(nowMs - (record.createdUnixMs ?? 0)),
  ];
  if (!wide) return row;
  return [
    ...row,
    capacity.requested === null ? "<none>" : String(capacity.requested),
    String(capacity.inUse),
    String(capacity.controllersAdded),
    reason || "<none>",
  ];
}
