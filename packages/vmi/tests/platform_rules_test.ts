// The firmware and platform fields as KubeVirt users write them: one
// bootloader, Secure Boot with SMM on q35 only, ACPI and the APIC always on,
// firmware.uuid, the clock, the TPM. What is stored, and what the guest gets
// (guestResources), follow from them.
import { describe, expect, it } from "vitest";
import { guestResources, type Vmi, validateUpdate, validateVmi } from "../src/mod.ts";
import { type Doc, expectOneError, expectValid, vmiWith } from "./helpers.ts";

const UUID = "5D307CA9-B3EF-428C-8861-06E72D69F223";

function accepted(change: (doc: Doc) => void): Vmi {
  const result = validateVmi(vmiWith(change));
  expectValid(result);
  return result.vmi as Vmi;
}

function guestOf(vmi: Vmi) {
  const guest = guestResources(vmi);
  if (!guest.ok) throw new Error(guest.reason);
  return guest.resources;
}

describe("bootloader", () => {
  it("is BIOS when absent", () => {
    const guest = guestOf(accepted(() => {}));
    expect(guest).toMatchObject({ bootloader: "bios", secureBoot: false, smm: false });
    expect(guest.firmwareUuid).toBeUndefined();
  });

  it("efi: {} is stored with Secure Boot on, as KubeVirt defaults it, and needs SMM", () => {
    const vmi = accepted((doc) => {
      doc.spec.domain.firmware.bootloader = { efi: {} };
      doc.spec.domain.features = { smm: {} };
    });
    expect(vmi.spec.domain.firmware?.bootloader).toEqual({ efi: { secureBoot: true } });
    expect(guestOf(vmi)).toMatchObject({ bootloader: "efi", secureBoot: true, smm: true });

    for (const features of [undefined, { smm: { enabled: false } }, { acpi: {} }]) {
      const error = expectOneError(
        validateVmi(
          vmiWith((doc) => {
            doc.spec.domain.firmware.bootloader = { efi: {} };
            if (features) doc.spec.domain.features = features;
          }),
        ),
        "spec.domain.features.smm",
      );
      expect(error.message).toBe(
        "spec.domain.features.smm must be on for Secure Boot (spec.domain.firmware.bootloader.efi.secureBoot, on unless false), as in KubeVirt: set spec.domain.features.smm: {} or secureBoot: false",
      );
    }
  });

  it("Secure Boot needs q35; UEFI without it runs on pc too", () => {
    const error = expectOneError(
      validateVmi(
        vmiWith((doc) => {
          doc.spec.domain.machine = { type: "pc" };
          doc.spec.domain.firmware.bootloader = { efi: { secureBoot: true } };
          doc.spec.domain.features = { smm: {} };
        }),
      ),
      "spec.domain.firmware.bootloader.efi.secureBoot",
    );
    expect(error.message).toContain("needs machine type q35");

    const vmi = accepted((doc) => {
      doc.spec.domain.machine = { type: "pc" };
      doc.spec.domain.firmware.bootloader = { efi: { secureBoot: false } };
    });
    expect(guestOf(vmi)).toMatchObject({ bootloader: "efi", secureBoot: false, smm: false });
  });

  it("is one of bios and efi", () => {
    const error = expectOneError(
      validateVmi(
        vmiWith((doc) => {
          doc.spec.domain.firmware.bootloader = { bios: {}, efi: { secureBoot: false } };
        }),
      ),
      "spec.domain.firmware.bootloader",
    );
    expect(error.message).toBe(
      "spec.domain.firmware.bootloader sets both bios and efi; a guest boots with one of them",
    );
  });

  it("keeps bios.useSerial, and refuses fields KubeVirt's bootloader does not have", () => {
    const vmi = accepted((doc) => {
      doc.spec.domain.firmware.bootloader = { bios: { useSerial: true } };
    });
    expect(vmi.spec.domain.firmware?.bootloader).toEqual({ bios: { useSerial: true } });
    expectOneError(
      validateVmi(
        vmiWith((doc) => {
          doc.spec.domain.firmware.bootloader = { efi: { secureBoot: "yes" } };
        }),
      ),
      "spec.domain.firmware.bootloader.efi.secureBoot",
    );
  });

  it("efi.persistent is accepted with a warning and not stored", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.domain.firmware.bootloader = { efi: { secureBoot: false, persistent: true } };
      }),
    );
    expectValid(result);
    expect(result.warnings).toEqual([
      {
        field: "spec.domain.firmware.bootloader.efi.persistent",
        message:
          "spec.domain.firmware.bootloader.efi.persistent has no effect: a VMI keeps its EFI variables as long as it lives, and there is no VirtualMachine to keep them longer",
      },
    ]);
    expect(result.vmi?.spec.domain.firmware?.bootloader).toEqual({ efi: { secureBoot: false } });
  });

  it("cannot change once the VMI is stored", () => {
    const stored = accepted(() => {});
    const next = vmiWith((doc) => {
      doc.spec.domain.firmware.bootloader = { efi: { secureBoot: false } };
    });
    const result = validateUpdate(stored, next);
    expect(result.valid).toBe(false);
    expect(result.errors.map((error) => error.field)).toEqual(["spec.domain.firmware.bootloader"]);
  });
});

describe("features", () => {
  it.each([
    ["acpi", "on pc NICs hot-plug through ACPI"],
    ["apic", "all have an APIC"],
  ])("%s cannot be disabled (%s)", (feature, why) => {
    const field = `spec.domain.features.${feature}.enabled`;
    const error = expectOneError(
      validateVmi(
        vmiWith((doc) => {
          doc.spec.domain.features = { [feature]: { enabled: false } };
        }),
      ),
      field,
    );
    expect(error.message).toContain(why);
    expect(
      guestOf(accepted((doc) => (doc.spec.domain.features = { [feature]: {} }))),
    ).toMatchObject({ smm: false });
  });

  it("smm is on when given, unless enabled is false", () => {
    expect(guestOf(accepted((doc) => (doc.spec.domain.features = { smm: {} }))).smm).toBe(true);
    expect(
      guestOf(accepted((doc) => (doc.spec.domain.features = { smm: { enabled: false } }))).smm,
    ).toBe(false);
  });
});

describe("firmware.uuid", () => {
  it("is stored as written and gives the guest (and its domain) that UUID", () => {
    const vmi = accepted((doc) => (doc.spec.domain.firmware.uuid = UUID));
    expect(vmi.spec.domain.firmware?.uuid).toBe(UUID);
    expect(guestOf(vmi).firmwareUuid).toBe(UUID.toLowerCase());
  });

  it("must be a UUID", () => {
    expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.firmware.uuid = "not-a-uuid"))),
      "spec.domain.firmware.uuid",
    );
  });
});

describe("clock", () => {
  it("keeps utc with its offset, or a timezone, and the timers", () => {
    const clock = { utc: { offsetSeconds: 3600 }, timer: { hpet: { present: false } } };
    expect(accepted((doc) => (doc.spec.domain.clock = clock)).spec.domain.clock).toEqual(clock);
    const zoned = {
      timezone: "Europe/Paris",
      timer: { rtc: { tickPolicy: "catchup", track: "guest" } },
    };
    expect(accepted((doc) => (doc.spec.domain.clock = zoned)).spec.domain.clock).toEqual(zoned);
  });

  it("takes one of utc and timezone", () => {
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.clock = { utc: {}, timezone: "UTC" }))),
      "spec.domain.clock",
    );
    expect(error.message).toBe(
      "spec.domain.clock sets both utc and timezone; the guest's clock keeps one",
    );
  });

  it("takes only a time zone there is", () => {
    const error = expectOneError(
      validateVmi(vmiWith((doc) => (doc.spec.domain.clock = { timezone: "Mars/Olympus_Mons" }))),
      "spec.domain.clock.timezone",
    );
    expect(error.message).toBe(
      'spec.domain.clock.timezone "Mars/Olympus_Mons" is not a time zone; use an IANA name such as Europe/Paris',
    );
  });
});

describe("tpm", () => {
  it("is stored when enabled, and not at all when enabled is false", () => {
    expect(accepted((doc) => (doc.spec.domain.devices.tpm = {})).spec.domain.devices.tpm).toEqual(
      {},
    );
    expect(
      accepted((doc) => (doc.spec.domain.devices.tpm = { enabled: false })).spec.domain.devices.tpm,
    ).toBeUndefined();
  });

  it("persistent is accepted with a warning and not stored", () => {
    const result = validateVmi(
      vmiWith((doc) => (doc.spec.domain.devices.tpm = { persistent: true })),
    );
    expectValid(result);
    expect(result.warnings.map((warning) => warning.field)).toEqual([
      "spec.domain.devices.tpm.persistent",
    ]);
    expect(result.vmi?.spec.domain.devices.tpm).toEqual({});
  });
});

describe("Hyper-V and KVM features", () => {
  it("are accepted with a warning each, and not stored", () => {
    const result = validateVmi(
      vmiWith((doc) => {
        doc.spec.domain.features = {
          acpi: {},
          hyperv: { relaxed: {}, vapic: {}, spinlocks: { spinlocks: 8191 } },
          kvm: { hidden: true },
          pvspinlock: { enabled: false },
        };
        doc.spec.domain.clock = { utc: {}, timer: { hyperv: {}, rtc: { tickPolicy: "catchup" } } };
      }),
    );
    expectValid(result);
    expect(result.warnings.map((warning) => warning.field)).toEqual([
      "spec.domain.features.hyperv",
      "spec.domain.features.kvm",
      "spec.domain.features.pvspinlock",
      "spec.domain.clock.timer.hyperv",
    ]);
    expect(result.vmi?.spec.domain.features).toEqual({ acpi: {} });
    expect(result.vmi?.spec.domain.clock).toEqual({
      utc: {},
      timer: { rtc: { tickPolicy: "catchup" } },
    });
  });
});

describe("devices", () => {
  it("keeps the balloon off, multi-queue disks and NICs, a video adapter and a watchdog (reset unless told)", () => {
    const vmi = accepted((doc) =>
      Object.assign(doc.spec.domain.devices, {
        autoattachMemBalloon: false,
        blockMultiQueue: true,
        networkInterfaceMultiqueue: true,
        video: { type: "virtio" },
        watchdog: { name: "wd", i6300esb: {} },
      }),
    );
    expect(vmi.spec.domain.devices).toMatchObject({
      autoattachMemBalloon: false,
      blockMultiQueue: true,
      networkInterfaceMultiqueue: true,
      video: { type: "virtio" },
      watchdog: { name: "wd", i6300esb: { action: "reset" } },
    });
    const defaults = accepted((doc) =>
      Object.assign(doc.spec.domain.devices, {
        autoattachMemBalloon: true,
        blockMultiQueue: false,
        networkInterfaceMultiqueue: false,
      }),
    );
    expect(defaults.spec.domain.devices.autoattachMemBalloon).toBeUndefined();
    expect(defaults.spec.domain.devices.blockMultiQueue).toBeUndefined();
    expect(defaults.spec.domain.devices.networkInterfaceMultiqueue).toBeUndefined();
  });

  it("warns that autoattachGraphicsDevice: true has no effect, and takes false quietly", () => {
    const on = validateVmi(
      vmiWith((doc) => (doc.spec.domain.devices.autoattachGraphicsDevice = true)),
    );
    expect(on.warnings.map((warning) => warning.field)).toEqual([
      "spec.domain.devices.autoattachGraphicsDevice",
    ]);
    const off = validateVmi(
      vmiWith((doc) => (doc.spec.domain.devices.autoattachGraphicsDevice = false)),
    );
    expectValid(off);
    expect(off.warnings).toEqual([]);
  });
});
