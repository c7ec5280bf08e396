// Whether a host is ready, the same wherever headroom decides it (the CLI
// today, placement next): its launcher says so, and said it recently.
import { headroom } from "../gen/headroom.js";

type IHostRecord = headroom.v1.HostRecord.$Properties;

/** A host whose record is older than this many heartbeats is NotReady. */
export const HEARTBEATS_TO_NOT_READY = 3;

export interface HostReadiness {
  ready: boolean;
  /** Why not; empty when ready. */
  reason: string;
}

export function hostReadiness(record: IHostRecord, nowMs: number): HostReadiness {
  const heartbeatMs = Number(record.heartbeatMs ?? 0) || 10_000;
  const silentMs = nowMs - Number(record.updatedUnixMs ?? 0);
  if (silentMs > HEARTBEATS_TO_NOT_READY * heartbeatMs)
    return {
      ready: false,
      reason: `no heartbeat for ${Math.round(silentMs / 1000)} s (expected every ${heartbeatMs / 1000} s)`,
    };
  if (record.condition !== headroom.v1.HostCondition.HOST_CONDITION_READY)
    return { ready: false, reason: record.reason || "its launcher has not said it is ready" };
  return { ready: true, reason: "" };
}

/** How long a host may stay NotReady before its VMIs are Failed (NodeLost), unless it says otherwise. */
export const DEFAULT_LOST_AFTER_MS = 5 * 60_000;

type IVmiStatus = headroom.v1.VmiStatus.$Properties;
const Phase = headroom.v1.Phase;

export interface HostLoss {
  state: "ready" | "notReady" | "lost";
  /** When the host turned NotReady (0 while ready). */
  sinceUnixMs: number;
  reason: string;
}

/**
 * Whether a host is lost: NotReady (its heartbeat stopped, or its launcher
 * stopped), and lost once that has lasted its lost_after_ms. A launcher that
 * is alive but says NotReady (libvirtd away) refreshes its record: it is
 * NotReady, never lost, as it is there to set things right.
 */
export function hostLoss(record: IHostRecord, nowMs: number): HostLoss {
  const readiness = hostReadiness(record, nowMs);
  if (readiness.ready) return { state: "ready", sinceUnixMs: 0, reason: "" };
  const heartbeatMs = Number(record.heartbeatMs ?? 0) || 10_000;
  const updated = Number(record.updatedUnixMs ?? 0);
  const silent = nowMs - updated > HEARTBEATS_TO_NOT_READY * heartbeatMs;
  const since =
    record.condition === headroom.v1.HostCondition.HOST_CONDITION_READY
      ? updated + HEARTBEATS_TO_NOT_READY * heartbeatMs
      : updated;
  const lostAfter = Number(record.lostAfterMs ?? 0) || DEFAULT_LOST_AFTER_MS;
  const forMs = Math.max(0, nowMs - since);
  if (silent && forMs >= lostAfter)
    return {
      state: "lost",
      sinceUnixMs: since,
      reason: `NodeLost: host ${record.node} has been NotReady for ${Math.round(forMs / 1000)} s (${readiness.reason})`,
    };
  return {
    state: "notReady",
    sinceUnixMs: since,
    reason: `host ${record.node} is NotReady (${readiness.reason}): the guest's state is not known`,
  };
}

/**
 * A VMI's status as its host's state makes it: Unknown while the host is
 * NotReady, Failed (NodeLost) once it is lost. A status that is not Scheduled
 * or Running, or a host that is ready, leaves it as it is.
 */
export function statusOnHost(
  status: IVmiStatus,
  host: IHostRecord | null,
  nowMs: number,
): IVmiStatus {
  if (!host) return status;
  if (status.phase !== Phase.PHASE_RUNNING && status.phase !== Phase.PHASE_SCHEDULED) return status;
  const loss = hostLoss(host, nowMs);
  if (loss.state === "ready") return status;
  return {
    ...status,
    phase: loss.state === "lost" ? Phase.PHASE_FAILED : Phase.PHASE_UNKNOWN,
    reason: loss.reason,
  };
}
