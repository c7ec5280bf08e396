// hostDisk volumes as KubeVirt users write them: a path, Disk or
// DiskOrCreate (which needs a capacity), and shared, which has no effect here.
import { describe, expect, it } from "vitest";
import { validateVmi } from "../src/mod.ts";
import { type Doc, expectOneError, expectValid, vmiWith } from "./helpers.ts";

function withHostDisk(hostDisk: Record<string, unknown>): Doc {
  return vmiWith((doc) => {
    doc.spec.volumes.push({ name: "data", hostDisk });
  });
}

describe("hostDisk", () => {
  it("is stored as written, and its volume gets a virtio disk as KubeVirt gives one", () => {
    const hostDisk = { path: "/srv/disks/data.img", type: "DiskOrCreate", capacity: "1Gi" };
    const result = validateVmi(withHostDisk(hostDisk));
    expectValid(result);
    expect(result.vmi?.spec.volumes.at(-1)).toEqual({ name: "data", hostDisk });
    expect(result.vmi?.spec.domain.devices.disks.at(-1)).toEqual({
      name: "data",
      disk: { bus: "virtio" },
    });
  });

  it("DiskOrCreate needs a capacity, within a disk's bounds", () => {
    expect(
      expectOneError(
        validateVmi(withHostDisk({ path: "/srv/d.img", type: "DiskOrCreate" })),
        "spec.volumes[1].hostDisk.capacity",
      ).message,
    ).toBe("spec.volumes[1].hostDisk.capacity is needed: DiskOrCreate makes the file that size");
    expectOneError(
      validateVmi(withHostDisk({ path: "/srv/d.img", type: "DiskOrCreate", capacity: "2Ti" })),
      "spec.volumes[1].hostDisk.capacity",
    );
    expectValid(validateVmi(withHostDisk({ path: "/srv/d.img", type: "Disk" })));
  });

  it.each([["srv/d.img"], ["/srv/../etc/shadow"], ["/srv/./d.img"], ["/srv//d.img"], ["/"]])(
    "refuses the path %s",
    (path) => {
      expectOneError(
        validateVmi(withHostDisk({ path, type: "Disk" })),
        "spec.volumes[1].hostDisk.path",
      );
    },
  );

  it("shared is accepted with a warning and not stored", () => {
    const result = validateVmi(withHostDisk({ path: "/srv/d.img", type: "Disk", shared: true }));
    expectValid(result);
    expect(result.warnings.map((warning) => warning.field)).toEqual([
      "spec.volumes[1].hostDisk.shared",
    ]);
    expect(result.vmi?.spec.volumes.at(-1)?.hostDisk).toEqual({ path: "/srv/d.img", type: "Disk" });
  });
});

describe("shareable", () => {
  const shared = (cache?: string) =>
    vmiWith((doc) => {
      doc.spec.volumes.push({ name: "data", hostDisk: { path: "/srv/d.img", type: "Disk" } });
      doc.spec.domain.devices.disks.push({
        name: "data",
        shareable: true,
        ...(cache && { cache }),
      });
    });

  it("is kept for a host disk", () => {
    const result = validateVmi(shared());
    expectValid(result);
    expect(result.vmi?.spec.domain.devices.disks.at(-1)).toMatchObject({ shareable: true });
    expectValid(validateVmi(shared("none")));
  });

  it("is refused for a qcow2 disk, and with a host cache, naming the field", () => {
    const qcow2 = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.devices.disks[0].shareable = true))),
      "spec.domain.devices.disks[0].shareable",
    );
    expect(qcow2.message).toContain("only a hostDisk volume can be shared");
    expectOneError(validateVmi(shared("writeback")), "spec.domain.devices.disks[1].cache");
  });
});
