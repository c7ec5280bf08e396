// The VmiStatus the composer writes, and when it may write it: a redelivered
// or late message must never move a VMI's status backwards.
import { type IVmiStatus, Phase } from "@headroom/proto";

export interface StatusFacts {
  uid: string;
  generation: number;
  domainName: string;
  nowMs: number;
}

/** Composed and handed to the launchers. */
export function scheduledStatus(facts: StatusFacts): IVmiStatus {
  return {
    phase: Phase.PHASE_SCHEDULED,
    reason: "",
    uid: facts.uid,
    observedGeneration: facts.generation,
    domainName: facts.domainName,
    updatedUnixMs: facts.nowMs,
  };
}

/** Cannot be composed; `reason` in plain words. */
export function failedStatus(facts: StatusFacts, reason: string): IVmiStatus {
  return { ...scheduledStatus(facts), phase: Phase.PHASE_FAILED, reason };
}

/** The parts of the stored status the decision reads. */
export interface CurrentStatus {
  phase?: Phase | null;
  uid?: string | null;
  observedGeneration?: number | null;
}

// Phases that only say "on its way"; anything else for this generation is
// the launcher's word (or an earlier failure) and stays.
const PROVISIONAL = new Set<Phase | null | undefined>([
  undefined,
  null,
  Phase.PHASE_UNSPECIFIED,
  Phase.PHASE_PENDING,
  Phase.PHASE_SCHEDULED,
]);

/**
 * Whether `next` (SCHEDULED or FAILED, from the composer) may replace
 * `current`. Never over a newer generation of the same VMI; for the same
 * generation only over a provisional phase. SCHEDULED never replaces RUNNING
 * of the same VMI at all: a running VMI's later generation (interfaces added
 * or removed) is carried out by the launcher on the running domain, and the
 * launcher's RUNNING status (capacity, interfaces) stays until it reports.
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
