// How launch results become the status and capacity events others read.
import type { HotplugSlot, InterfaceInfo } from "@headroom/domain-xml";
import {
  CapacityEventType,
  type ICapacity,
  type ICapacityEvent,
  type IInterfaceStatus,
  InterfaceState,
  type IVmiStatus,
  Phase,
} from "@headroom/proto";

export interface RunningFacts {
  uid: string;
  generation: number;
  domainName: string;
  node: string;
  capacity: ICapacity;
  freeSlots: HotplugSlot[];
  controllersAdded: number;
  interfaces: InterfaceInfo[];
  nowMs: number;
}

const NIC_ALIAS = /^ua-net-(.+)$/;

/** The VMI interfaces among a domain's NICs (by their `ua-net-<name>` alias). */
export function vmiInterfaces(interfaces: InterfaceInfo[]): IInterfaceStatus[] {
  return interfaces.flatMap((nic) => {
    const name = NIC_ALIAS.exec(nic.alias ?? "")?.[1];
    if (!name) return [];
    return [
      {
        name,
        mac: nic.mac ?? "",
        pciAddress: nic.pciAddress ?? "",
        state: InterfaceState.INTERFACE_STATE_ATTACHED,
      },
    ];
  });
}

export function runningStatus(facts: RunningFacts): IVmiStatus {
  const interfaces = vmiInterfaces(facts.interfaces);
  return {
    phase: Phase.PHASE_RUNNING,
    reason: "",
    node: facts.node,
    uid: facts.uid,
    observedGeneration: facts.generation,
    domainName: facts.domainName,
    capacity: {
      ...(facts.capacity.requested != null ? { requested: facts.capacity.requested } : {}),
      interfaces: facts.capacity.interfaces ?? 0,
      effective: facts.capacity.effective ?? 0,
      free: facts.freeSlots.length,
      controllersAdded: facts.controllersAdded,
      inUse: interfaces.length,
    },
    interfaces,
    updatedUnixMs: facts.nowMs,
  };
}

export interface StatusBase {
  uid: string;
  generation: number;
  domainName: string;
  node: string;
  nowMs: number;
}

/** A plan taken by this host's launcher, its domain not launched yet; `reason` says what it waits for. */
export function scheduledStatus(base: StatusBase, reason = ""): IVmiStatus {
  return {
    phase: Phase.PHASE_SCHEDULED,
    reason,
    node: base.node,
    uid: base.uid,
    observedGeneration: base.generation,
    domainName: base.domainName,
    updatedUnixMs: base.nowMs,
  };
}

/** A status stays small whatever it must say: a reason is cut at 4 KiB (a plan's author may be hostile). */
export const MAX_REASON_CHARS = 4096;

export function failedStatus(base: StatusBase, reason: string): IVmiStatus {
  const cut =
    reason.length > MAX_REASON_CHARS ? `${reason.slice(0, MAX_REASON_CHARS)}… (cut)` : reason;
  return { ...scheduledStatus(base), phase: Phase.PHASE_FAILED, reason: cut };
}

export function capacityEvent(
  type: CapacityEventType,
  vmi: { namespace: string; name: string; uid: string },
  status: IVmiStatus,
  extra: { interfaceName?: string; message?: string; nowMs: number },
): ICapacityEvent {
  const capacity = status.capacity ?? {};
  return {
    type,
    namespace: vmi.namespace,
    name: vmi.name,
    uid: vmi.uid,
    ...(capacity.requested != null ? { requested: capacity.requested } : {}),
    effective: capacity.effective ?? 0,
    inUse: capacity.inUse ?? 0,
    free: capacity.free ?? 0,
    controllersAdded: capacity.controllersAdded ?? 0,
    node: status.node ?? "",
    interfaceName: extra.interfaceName ?? "",
    message: extra.message ?? "",
    timestampUnixMs: extra.nowMs,
  };
}

export { CapacityEventType };
