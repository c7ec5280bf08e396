import { describe, expect, it } from "vitest";
import { checkManifest, decideApply, planApply, type StoredVmi } from "../src/apply.ts";
import { type Doc, vmiDoc } from "./fixtures.ts";

function valid(doc: Doc) {
  const checked = checkManifest(JSON.stringify(doc));
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked;
}

describe("checkManifest", () => {
  it("accepts a valid VMI and names its key and capacity", () => {
    const checked = valid(vmiDoc());
    expect(checked.key).toBe("team-a.vm1");
    expect(checked.namespace).toBe("team-a");
    expect(checked.capacity).toEqual({ requested: 5, interfaces: 2, effective: 5 });
  });

  it("defaults the namespace", () => {
    const checked = valid(
      vmiDoc((doc) => {
        delete doc.metadata.namespace;
      }),
    );
    expect(checked.key).toBe("default.vm1");
  });

  it("refuses text that is not JSON, or nothing, under the field manifest", () => {
    for (const text of ["{not json", "", "   "]) {
      const checked = checkManifest(text);
      expect(checked.ok).toBe(false);
      if (!checked.ok) {
        expect(checked.errors).toHaveLength(1);
        expect(checked.errors[0]?.field).toBe("manifest");
      }
    }
  });

  it("returns every error of an invalid VMI", () => {
    const checked = checkManifest(
      JSON.stringify(
        vmiDoc((doc) => {
          doc.spec.domain.resources.requests["kubevirt.io/interface"] = 33;
          doc.spec.domain.machine = { type: "pc-q35-7.2" };
        }),
      ),
    );
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.errors.length).toBeGreaterThanOrEqual(2);
  });

  it("refuses JSON that is not a VMI", () => {
    for (const text of ["null", "42", "[]", '"vmi"']) {
      const checked = checkManifest(text);
      expect(checked.ok, text).toBe(false);
    }
  });
});

describe("decideApply", () => {
  it("creates when nothing is stored", () => {
    const decision = decideApply(valid(vmiDoc()), null);
    expect(decision.kind).toBe("create");
  });

  it("is unchanged for the same document, also written differently", () => {
    const stored = valid(vmiDoc()).vmi;
    expect(decideApply(valid(vmiDoc()), stored).kind).toBe("unchanged");
    // Defaults written out are the same VMI once normalized.
    const explicit = vmiDoc((doc) => {
      doc.spec.domain.machine = { type: "q35" };
    });
    expect(decideApply(valid(explicit), stored).kind).toBe("unchanged");
  });

  it("updates for an allowed change", () => {
    const stored = valid(vmiDoc()).vmi;
    const relabelled = vmiDoc((doc) => {
      doc.metadata.labels.app = "other";
    });
    const decision = decideApply(valid(relabelled), stored);
    expect(decision.kind).toBe("update");
    if (decision.kind === "update") expect(decision.vmi.metadata.labels).toEqual({ app: "other" });
  });

  it("rejects a change of the interface request", () => {
    const stored = valid(vmiDoc()).vmi;
    const changed = vmiDoc((doc) => {
      doc.spec.domain.resources.requests["kubevirt.io/interface"] = 6;
    });
    const decision = decideApply(valid(changed), stored);
    expect(decision.kind).toBe("rejected");
    if (decision.kind === "rejected") {
      expect(decision.errors).toHaveLength(1);
      expect(decision.errors[0]?.message).toMatch(/immutable: it is 5 and cannot change to 6/);
    }
  });
});

describe("planApply", () => {
  const clock = { nowMs: 1_700_000_000_000, newUid: () => "uid-1" };

  function storedFrom(doc: Doc, revision: number, generation: number): StoredVmi {
    const plan = planApply(valid(doc), null, { nowMs: 1, newUid: () => "uid-0" });
    if (plan.kind !== "create") throw new Error(plan.kind);
    return {
      revision,
      record: { ...plan.record, generation },
      vmi: JSON.parse(plan.record.manifestJson),
    };
  }

  it("plans generation 1 with a fresh uid and the normalized VMI for a new name", () => {
    const plan = planApply(valid(vmiDoc()), null, clock);
    expect(plan.kind).toBe("create");
    if (plan.kind !== "create") return;
    expect(plan.record).toMatchObject({
      namespace: "team-a",
      name: "vm1",
      uid: "uid-1",
      generation: 1,
      capacity: { requested: 5, interfaces: 2, effective: 5 },
      // What the launcher holds a plan's domain to.
      guest: { memoryKib: 131072, vcpus: 1, machineType: "q35" },
      createdUnixMs: clock.nowMs,
      acceptedUnixMs: clock.nowMs,
    });
    expect(JSON.parse(plan.record.manifestJson).spec.domain.machine).toEqual({ type: "q35" });
  });

  it("plans the next generation with the same uid and creation time for an update", () => {
    const stored = storedFrom(vmiDoc(), 42, 3);
    const plan = planApply(
      valid(
        vmiDoc((doc) => {
          doc.metadata.labels = { tier: "gold" };
        }),
      ),
      stored,
      clock,
    );
    expect(plan.kind).toBe("update");
    if (plan.kind !== "update") return;
    expect(plan.revision).toBe(42);
    expect(plan.record).toMatchObject({
      uid: "uid-0",
      generation: 4,
      createdUnixMs: 1,
      acceptedUnixMs: clock.nowMs,
    });
  });

  it("hands back the stored record when nothing changed", () => {
    const stored = storedFrom(vmiDoc(), 7, 2);
    const plan = planApply(valid(vmiDoc()), stored, clock);
    expect(plan).toEqual({ kind: "unchanged", record: stored.record });
  });

  it("passes rejections through", () => {
    const stored = storedFrom(vmiDoc(), 7, 2);
    const plan = planApply(
      valid(
        vmiDoc((doc) => {
          delete doc.spec.domain.resources;
        }),
      ),
      stored,
      clock,
    );
    expect(plan.kind).toBe("rejected");
  });
});
