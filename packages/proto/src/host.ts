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
