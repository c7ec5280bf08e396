import type { Vmi } from "./types.ts";

/** One problem with a document: the field it concerns and a sentence that starts with that field. */
export interface FieldError {
  /** e.g. `spec.domain.devices.interfaces[1].name`; "" for the document as a whole. */
  field: string;
  message: string;
}

/** Hot-plug capacity of a VMI, in network interfaces. */
export interface Capacity {
  /** The `kubevirt.io/interface` request, or null when the VMI has none. */
  requested: number | null;
  /** Interfaces the VMI defines. */
  interfaces: number;
  /** Interfaces the VMI can hold: max(requested, interfaces). */
  effective: number;
}

export interface ValidationResult {
  valid: boolean;
  errors: FieldError[];
  /** Fields accepted that have no effect on headroom, each saying why (kubectl's `Warning:` lines). */
  warnings: FieldError[];
  /** Set when valid. */
  capacity: Capacity | null;
  /** The normalized VMI (defaults applied), set when valid. */
  vmi: Vmi | null;
}
