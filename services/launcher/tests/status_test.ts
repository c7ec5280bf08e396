import { Phase } from "@headroom/proto";
import { describe, expect, it } from "vitest";
import { failedStatus, scheduledStatus } from "../src/records.ts";
import { mayReplaceStatus } from "../src/status.ts";

const base = { uid: "u1", generation: 2, domainName: "ns_vm", node: "host-a", nowMs: 1000 };
const scheduled = scheduledStatus(base);
const failed = failedStatus({ ...base, node: "" }, "image x is not in the image store");

describe("scheduledStatus and failedStatus", () => {
  it("carry the uid, generation, domain name and node", () => {
    expect(scheduled).toEqual({
      phase: Phase.PHASE_SCHEDULED,
      reason: "",
      node: "host-a",
      uid: "u1",
      observedGeneration: 2,
      domainName: "ns_vm",
      updatedUnixMs: 1000,
    });
    expect(failed).toEqual({
      phase: Phase.PHASE_FAILED,
      reason: "image x is not in the image store",
      node: "",
      uid: "u1",
      observedGeneration: 2,
      domainName: "ns_vm",
      updatedUnixMs: 1000,
    });
  });
});

describe("mayReplaceStatus", () => {
  const at = (phase: Phase, observedGeneration: number, uid = "u1") => ({
    phase,
    uid,
    observedGeneration,
  });

  it("writes where there is no status, or one of a deleted VMI of the same name", () => {
    expect(mayReplaceStatus(null, scheduled)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_RUNNING, 7, "old-uid"), scheduled)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_RUNNING, 7, "old-uid"), failed)).toBe(true);
  });

  it("never goes back to an older generation", () => {
    for (const phase of [Phase.PHASE_SCHEDULED, Phase.PHASE_RUNNING, Phase.PHASE_FAILED]) {
      expect(mayReplaceStatus(at(phase, 3), scheduled)).toBe(false);
      expect(mayReplaceStatus(at(phase, 3), failed)).toBe(false);
    }
  });

  it("for the same generation, replaces only a provisional phase", () => {
    expect(mayReplaceStatus(at(Phase.PHASE_SCHEDULED, 2), scheduled)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_PENDING, 2), scheduled)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_SCHEDULED, 2), failed)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_RUNNING, 2), scheduled)).toBe(false);
    expect(mayReplaceStatus(at(Phase.PHASE_RUNNING, 2), failed)).toBe(false);
    // The launch's failure (or an earlier one) for this generation stays.
    expect(mayReplaceStatus(at(Phase.PHASE_FAILED, 2), scheduled)).toBe(false);
    expect(mayReplaceStatus(at(Phase.PHASE_FAILED, 2), failed)).toBe(false);
  });

  it("moves an older generation forward, except SCHEDULED over a running domain", () => {
    expect(mayReplaceStatus(at(Phase.PHASE_SCHEDULED, 1), scheduled)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_FAILED, 1), scheduled)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_RUNNING, 1), failed)).toBe(true);
    expect(mayReplaceStatus(at(Phase.PHASE_RUNNING, 1), scheduled)).toBe(false);
  });
});
