import { describe, expect, it } from "vitest";
import { HostCondition, hostLoss, hostReadiness, Phase, statusOnHost } from "../src/mod.ts";

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

describe("hostLoss and statusOnHost", () => {
  const host = {
    node: "hv-b",
    condition: READY,
    heartbeatMs: 1000,
    updatedUnixMs: 10_000,
    lostAfterMs: 5000,
  };
  const running = { phase: Phase.PHASE_RUNNING, node: "hv-b", uid: "u" };

  it("turns a silent host NotReady after 3 heartbeats, then lost after its lost_after_ms", () => {
    expect(hostLoss(host, 13_000).state).toBe("ready");
    expect(hostLoss(host, 13_001)).toMatchObject({ state: "notReady", sinceUnixMs: 13_000 });
    expect(hostLoss(host, 17_999).state).toBe("notReady");
    expect(hostLoss(host, 18_000)).toMatchObject({
      state: "lost",
      sinceUnixMs: 13_000,
      reason:
        "NodeLost: host hv-b has been NotReady for 5 s (no heartbeat for 8 s (expected every 1 s))",
    });
  });

  it("counts a stopped launcher from when it said so; an alive one that says NotReady is never lost", () => {
    const stopped = { ...host, condition: HostCondition.HOST_CONDITION_NOT_READY };
    expect(hostLoss(stopped, 14_000).state).toBe("notReady");
    expect(hostLoss(stopped, 15_000).state).toBe("lost");
    // Written a moment ago, NotReady: the launcher is there.
    expect(hostLoss({ ...stopped, updatedUnixMs: 99_000 }, 99_500).state).toBe("notReady");
  });

  it("shows a Running VMI Unknown, then Failed NodeLost; other phases and ready hosts change nothing", () => {
    expect(statusOnHost(running, host, 12_000)).toBe(running);
    expect(statusOnHost(running, host, 14_000)).toMatchObject({
      phase: Phase.PHASE_UNKNOWN,
      reason: expect.stringContaining("host hv-b is NotReady"),
    });
    expect(statusOnHost(running, host, 30_000)).toMatchObject({
      phase: Phase.PHASE_FAILED,
      reason: expect.stringMatching(/^NodeLost: /),
    });
    const failed = { ...running, phase: Phase.PHASE_FAILED, reason: "boot failed" };
    expect(statusOnHost(failed, host, 30_000)).toBe(failed);
    expect(statusOnHost(running, null, 30_000)).toBe(running);
  });
});
