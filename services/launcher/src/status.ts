// When a status the launcher writes on taking a plan (Scheduled, or Failed
// for a generation that could not be composed) may replace the stored one: a
// redelivered or late plan must never move a VMI's status backwards.
import { type IVmiStatus, Phase } from "@headroom/proto";

/** The parts of the stored status the decision reads. */
export interface CurrentStatus {
  phase?: Phase | null;
  uid?: string | null;
  observedGeneration?: number | null;
}

// Phases that only say "on its way"; anything else for this generation is
// the launch's outcome (or an earlier failure) and stays.
const PROVISIONAL = new Set<Phase | null | undefined>([
  undefined,
  null,
  Phase.PHASE_UNSPECIFIED,
  Phase.PHASE_PENDING,
  Phase.PHASE_SCHEDULED,
]);

/**
 * Whether `next` (SCHEDULED, or FAILED from a compose failure) may replace
 * `current`. Never over a newer generation of the same VMI; for the same
 * generation only over a provisional phase. SCHEDULED never replaces RUNNING
 * of the same VMI at all: a running VMI's later generation (interfaces added
 * or removed) is carried out on the running domain, and its RUNNING status
 * (capacity, interfaces) stays until that is done.
 * A status of another uid belongs to a deleted VMI of the same name.
 */
export function mayReplaceStatus(current: CurrentStatus | null, next: IVmiStatus): boolean {
  if (current === null) return true;
  if ((current.uid ?? "") !== (next.uid ?? "")) return true;
  const currentGeneration = Number(current.observedGeneration ?? 0);
  const nextGeneration = Number(next.observedGeneration ?? 0);
  if (currentGeneration > nextGeneration) return false;
  if (next.phase === Phase.PHASE_SCHEDULED && current.phase === Phase.PHASE_RUNNING) return false;
  if (currentGeneration === nextGeneration) return PROVISIONAL.has(current.phase);
  return true;
}
