// Hot-plugging into the reserved room on the real thing, counted from inside
// the tiny guest.
import { interfaceXmlByAlias, nicXml, pciAddressesOf } from "@headroom/domain-xml";
import { waitForGuestReport } from "@headroom/images";
import { describe, expect, it } from "vitest";
import { attachNic, DetachTimeoutError, detachNic, NoRoomError, removeDomain } from "../src/mod.ts";
import { useGuestHost } from "./guest_host.ts";

const host = useGuestHost("hrtest-hotplug-");

const nic = (name: string) => nicXml({ name, kind: "pod", model: "virtio-non-transitional" });

describe.each(["q35", "pc"] as const)("hot-plug on %s", (machine) => {
  it("plugs until refused, the guest counts every NIC, and an unplugged slot can be used again", async () => {
    const spec = await host.seedLikeSpec(machine);
    const { domain, freeSlots } = await host.launch(spec, 5);
    const console = spec.serialConsoleLogPath as string;
    const guestSees = async (nics: number) =>
      (await waitForGuestReport(console, (r) => r.nics === nics, { timeoutMs: 60_000 })).report
        .nics;
    expect(await guestSees(2)).toBe(2);

    // The guarantee: at least 3 more; past it, as many as the topology has room for.
    let plugged = 0;
    for (;;) {
      const name = `extra${plugged}`;
      try {
        await attachNic(domain, nic(name), `ua-net-${name}`);
      } catch (error) {
        expect(error).toBeInstanceOf(NoRoomError);
        expect((error as NoRoomError).inUse).toBe(2 + plugged);
        break;
      }
      plugged += 1;
      expect(await guestSees(2 + plugged)).toBe(2 + plugged);
    }
    expect(plugged).toBeGreaterThanOrEqual(3);
    expect(plugged).toBe(freeSlots.length);

    // Every plugged NIC is in the persistent definition, at its live address.
    const live = pciAddressesOf(await domain.getXmlDesc());
    const config = pciAddressesOf(await domain.getXmlDesc({ inactive: true }));
    for (let i = 0; i < plugged; i++) {
      const id = Object.keys(live).find((key) => key.includes(`ua-net-extra${i}`));
      expect(id).toBeDefined();
      expect(config[id as string]).toBe(live[id as string]);
    }

    await detachNic(host.conn, domain, "ua-net-extra0");
    expect(await guestSees(1 + plugged)).toBe(1 + plugged);
    const inactive = await domain.getXmlDesc({ inactive: true });
    expect(interfaceXmlByAlias(inactive, "ua-net-extra0")).toBeUndefined();

    await attachNic(domain, nic("again"), "ua-net-again");
    expect(await guestSees(2 + plugged)).toBe(2 + plugged);
    await expect(attachNic(domain, nic("onemore"), "ua-net-onemore")).rejects.toBeInstanceOf(
      NoRoomError,
    );
    await removeDomain(domain);
  });
});

describe("hot-plug edge cases", () => {
  it("attaching a NIC that is already there and detaching one that is not are no-ops", async () => {
    const spec = await host.seedLikeSpec("q35");
    const { domain } = await host.launch(spec, 4);
    const first = await attachNic(domain, nic("twice"), "ua-net-twice");
    const second = await attachNic(domain, nic("twice"), "ua-net-twice");
    expect(second.interfaces.length).toBe(first.interfaces.length);
    const after = await detachNic(host.conn, domain, "ua-net-never-there");
    expect(after.interfaces.length).toBe(first.interfaces.length);
    await removeDomain(domain);
  });

  it("a guest that does not release the NIC keeps it: timeout error, still attached and persistent", async () => {
    const spec = await host.seedLikeSpec("q35");
    const { domain } = await host.launch(spec, 4);
    await waitForGuestReport(spec.serialConsoleLogPath as string, (r) => r.nics === 2, {
      timeoutMs: 60_000,
    });
    await attachNic(domain, nic("stuck"), "ua-net-stuck");
    // A paused guest answers nothing, as a hung or hostile guest would.
    await domain.suspend();
    await expect(detachNic(host.conn, domain, "ua-net-stuck", 3_000)).rejects.toBeInstanceOf(
      DetachTimeoutError,
    );
    expect(interfaceXmlByAlias(await domain.getXmlDesc(), "ua-net-stuck")).toBeDefined();
    expect(
      interfaceXmlByAlias(await domain.getXmlDesc({ inactive: true }), "ua-net-stuck"),
    ).toBeDefined();
    await domain.resume();
    await removeDomain(domain);
  });
});
