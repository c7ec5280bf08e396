import { describe, expect, it } from "vitest";
import { HostCondition, hostReadiness } from "../src/mod.ts";

const READY = HostCondition.HOST_CONDITION_READY;

describe("hostReadiness", () => {
  it("is ready while the launcher says so within three heartbeats", () => {
    const record = { condition: READY, heartbeatMs: 10_000, updatedUnixMs: 1_000_000 };
    expect(hostReadiness(record, 1_030_000)).toEqual({ ready: true, reason: "" });
    expect(hostReadiness(record, 1_030_001)).toEqual({
      ready: false,
      reason: "no heartbeat for 30 s (expected every 10 s)",
    });
  });

  it("takes the launcher's word when it says it is not ready", () => {
    const record = {
      condition: HostCondition.HOST_CONDITION_NOT_READY,
      reason: "its launcher stopped",
      heartbeatMs: 1000,
      updatedUnixMs: 5000,
    };
    expect(hostReadiness(record, 5000)).toEqual({ ready: false, reason: "its launcher stopped" });
    expect(hostReadiness({ ...record, condition: 0, reason: "" }, 5000).ready).toBe(false);
  });
});
