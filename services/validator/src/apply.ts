// What an apply does, decided without I/O: parse and validate the manifest,
// then compare with the stored VMI (if any).
import { isDeepStrictEqual } from "node:util";
import { storeKey } from "@headroom/bus";
import type { ICapacity, IGuestResources, IVmiAccepted } from "@headroom/proto";
import {
  type Capacity,
  type FieldError,
  guestResources,
  type Vmi,
  validateUpdate,
  validateVmi,
} from "@headroom/vmi";

export type CheckedManifest =
  | { ok: false; errors: FieldError[] }
  | {
      ok: true;
      doc: unknown;
      vmi: Vmi;
      /** Fields accepted that have no effect here, each saying why. */
      warnings: FieldError[];
      capacity: Capacity;
      namespace: string;
      name: string;
      key: string;
    };

/** Parses the manifest JSON and validates it as a VMI on its own. */
export function checkManifest(manifestJson: string): CheckedManifest {
  if (manifestJson.trim() === "") {
    return { ok: false, errors: [{ field: "manifest", message: "manifest is empty" }] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(manifestJson);
  } catch (error) {
    return {
      ok: false,
      errors: [
        { field: "manifest", message: `manifest is not valid JSON: ${(error as Error).message}` },
      ],
    };
  }
  const result = validateVmi(doc);
  if (!result.valid || !result.vmi || !result.capacity) return { ok: false, errors: result.errors };
  const namespace = result.vmi.metadata.namespace ?? "default";
  const name = result.vmi.metadata.name;
  return {
    ok: true,
    doc,
    vmi: result.vmi,
    warnings: result.warnings,
    capacity: result.capacity,
    namespace,
    name,
    key: storeKey(namespace, name),
  };
}

export type ApplyDecision =
  | { kind: "rejected"; errors: FieldError[] }
  /** No VMI of that name: store it as generation 1. */
  | { kind: "create"; vmi: Vmi; capacity: Capacity }
  /** The stored VMI is the same once normalized: nothing to do. */
  | { kind: "unchanged" }
  /** An allowed change: store it as the next generation. */
  | { kind: "update"; vmi: Vmi; capacity: Capacity };

/**
 * Decides what applying `checked` (a valid manifest) means given the stored,
 * normalized VMI of the same name (null when there is none).
 */
export function decideApply(
  checked: CheckedManifest & { ok: true },
  stored: Vmi | null,
): ApplyDecision {
  if (stored === null) return { kind: "create", vmi: checked.vmi, capacity: checked.capacity };
  const result = validateUpdate(stored, checked.doc);
  if (!result.valid || !result.vmi || !result.capacity)
    return { kind: "rejected", errors: result.errors };
  if (isDeepStrictEqual(result.vmi, stored)) return { kind: "unchanged" };
  return { kind: "update", vmi: result.vmi, capacity: result.capacity };
}

/** A VmiAccepted as stored in headroom-vmis and published: identity fields always set. */
export type AcceptedRecord = IVmiAccepted & {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  manifestJson: string;
};

/** The stored VMI: its KV revision (for compare-and-set), the record, and the VMI it holds. */
export interface StoredVmi {
  revision: number;
  record: AcceptedRecord;
  vmi: Vmi;
}

export type ApplyPlan =
  | { kind: "rejected"; errors: FieldError[] }
  | { kind: "unchanged"; record: AcceptedRecord }
  | { kind: "create"; record: AcceptedRecord }
  /** Write `record` if the stored VMI is still at `revision`. */
  | { kind: "update"; record: AcceptedRecord; revision: number };

/**
 * decideApply, plus the record to store: a new VMI gets a fresh uid and
 * generation 1; an update keeps the uid and creation time and takes the next
 * generation.
 */
export function planApply(
  checked: CheckedManifest & { ok: true },
  stored: StoredVmi | null,
  clock: { nowMs: number; newUid: () => string },
): ApplyPlan {
  const decision = decideApply(checked, stored?.vmi ?? null);
  const { namespace, name } = checked;
  switch (decision.kind) {
    case "rejected":
      return decision;
    case "create":
      return {
        kind: "create",
        record: {
          namespace,
          name,
          uid: clock.newUid(),
          generation: 1,
          manifestJson: JSON.stringify(decision.vmi),
          capacity: toCapacity(decision.capacity),
          ...guestOf(decision.vmi),
          createdUnixMs: clock.nowMs,
          acceptedUnixMs: clock.nowMs,
        },
      };
    case "unchanged":
      if (!stored) throw new Error("unchanged without a stored VMI");
      return { kind: "unchanged", record: stored.record };
    case "update":
      if (!stored) throw new Error("update without a stored VMI");
      return {
        kind: "update",
        revision: stored.revision,
        record: {
          namespace,
          name,
          uid: stored.record.uid,
          generation: stored.record.generation + 1,
          manifestJson: JSON.stringify(decision.vmi),
          capacity: toCapacity(decision.capacity),
          ...guestOf(decision.vmi),
          createdUnixMs: stored.record.createdUnixMs ?? clock.nowMs,
          acceptedUnixMs: clock.nowMs,
        },
      };
  }
}

/** The record's guest resources; none for a memory that cannot be (the composer names the field). */
function guestOf(vmi: Vmi): { guest?: IGuestResources } {
  const guest = guestResources(vmi);
  if (!guest.ok) return {};
  const { memoryKiB, vcpus, machineType, bootloader, secureBoot, smm, firmwareUuid, ports } =
    guest.resources;
  return {
    guest: {
      memoryKib: memoryKiB,
      vcpus,
      machineType,
      bootloader,
      secureBoot,
      smm,
      firmwareUuid: firmwareUuid ?? "",
      ports: ports.map((port) => ({ ...port, name: port.name ?? "" })),
    },
  };
}

export function toCapacity(capacity: Capacity): ICapacity {
  return {
    requested: capacity.requested,
    interfaces: capacity.interfaces,
    effective: capacity.effective,
  };
}
