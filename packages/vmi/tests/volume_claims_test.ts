// persistentVolumeClaim, dataVolume and ephemeral name headroom volumes: stored as
// written, each a volume source of its own.
import { describe, expect, it } from "vitest";
import { validateVmi, volumeClaimOf } from "../src/mod.ts";
import { expectOneError, expectValid, vmiWith } from "./helpers.ts";

describe("volume claims", () => {
  it("keeps persistentVolumeClaim and dataVolume, and names their volume", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.volumes.push(
          { name: "data", persistentVolumeClaim: { claimName: "pvc-1", readOnly: true } },
          { name: "logs", dataVolume: { name: "dv-1" } },
        );
      }),
    );
    expectValid(result);
    const [, data, logs] = result.vmi?.spec.volumes ?? [];
    expect(data).toEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "pvc-1", readOnly: true },
    });
    expect(volumeClaimOf(data as never)).toEqual({
      name: "pvc-1",
      readOnly: true,
      ephemeral: false,
    });
    expect(volumeClaimOf(logs as never)).toEqual({
      name: "dv-1",
      readOnly: false,
      ephemeral: false,
    });
  });

  it.each([
    [
      "spec.volumes[1].persistentVolumeClaim.claimName",
      { persistentVolumeClaim: { claimName: "Not_A_Label" } },
    ],
    ["spec.volumes[1].dataVolume.name", { dataVolume: { name: "a/b" } }],
  ])("refuses %s", (field, source) => {
    expectOneError(
      validateVmi(vmiWith((doc) => doc.spec.volumes.push({ name: "data", ...source }))),
      field,
    );
  });

  it("takes one source a volume", () => {
    const result = validateVmi(
      vmiWith((doc) =>
        doc.spec.volumes.push({
          name: "data",
          persistentVolumeClaim: { claimName: "a" },
          dataVolume: { name: "a" },
        }),
      ),
    );
    expectOneError(result, "spec.volumes[1]");
  });
});

describe("ephemeral volumes", () => {
  it("name a headroom volume, kept as written; hotpluggable, warned about, is not kept", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.volumes.push(
          { name: "scratch", ephemeral: { persistentVolumeClaim: { claimName: "golden" } } },
          { name: "data", persistentVolumeClaim: { claimName: "data", hotpluggable: true } },
        );
      }),
    );
    expect(result.errors).toEqual([]);
    expect(result.vmi?.spec.volumes[1]).toEqual({
      name: "scratch",
      ephemeral: { persistentVolumeClaim: { claimName: "golden" } },
    });
    expect(result.vmi?.spec.volumes[2]).toEqual({
      name: "data",
      persistentVolumeClaim: { claimName: "data" },
    });
    const [, scratch] = result.vmi?.spec.volumes ?? [];
    expect(scratch && volumeClaimOf(scratch)).toEqual({
      name: "golden",
      readOnly: false,
      ephemeral: true,
    });
  });

  it("refuses an ephemeral volume of anything but a claim", () => {
    const doc = vmiWith((doc) =>
      doc.spec.volumes.push({ name: "scratch", ephemeral: { containerDisk: { image: "a" } } }),
    );
    // It needs its claim, and has nothing else.
    expect(validateVmi(doc).errors.map((error) => error.field)).toEqual([
      "spec.volumes[1].ephemeral.persistentVolumeClaim",
      "spec.volumes[1].ephemeral.containerDisk",
    ]);
  });
});
