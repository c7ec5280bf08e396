// headroom touches only the domains it defined. A domain someone defined by
// hand under the name a VMI would get (<namespace>_<name>) survives the VMI's
// apply, its failure and its deletion, unchanged; the VMI fails saying why.
import { domainNameOf } from "@headroom/host-state";
import { CapacityEventType, Phase } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { afterAll, describe, expect, it } from "vitest";

const stack = useStack();
const RELEASED = CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED;

/** A domain as an administrator might define it by hand: no headroom mark. */
function handmadeXml(name: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
</domain>`;
}

describe("a domain headroom did not define", () => {
  const name = "db";
  const domainName = () => domainNameOf(stack.namespace, name);

  afterAll(async () => {
    const domain = await stack.conn.findDomain(domainName());
    await domain?.undefine().catch(() => {});
  });

  it("is left alone when a VMI of that name is applied and deleted; the VMI fails saying why", async () => {
    const handmade = await stack.conn.defineXml(handmadeXml(domainName()));
    const before = await handmade.getXmlDesc({ inactive: true });

    const applied = await stack.apply(await stack.seedManifest(name));
    expect(applied.rejected?.errors ?? []).toEqual([]);
    const settled = await stack.settled(name);
    expect(settled.status?.phase).toBe(Phase.PHASE_FAILED);
    expect(settled.status?.reason).toContain(
      `a domain named ${domainName()} already exists on this host and was not defined by headroom`,
    );
    const during = await stack.conn.findDomain(domainName());
    expect(during?.uuid).toBe(handmade.uuid);
    expect(await during?.getXmlDesc({ inactive: true })).toBe(before);

    expect((await stack.describe(name)).found).toBe(false);
    expect((await stack.delete(name)).deleted).toBe(true);
    // The launcher has carried out the deletion once it reported the VMI released.
    const deadline = Date.now() + 60_000;
    while ((await stack.capacityEvents(name)).at(-1)?.type !== RELEASED) {
      if (Date.now() > deadline) throw new Error("the deletion was not carried out in time");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const after = await stack.conn.findDomain(domainName());
    expect(after?.uuid).toBe(handmade.uuid);
    expect(await after?.getXmlDesc({ inactive: true })).toBe(before);
  }, 240_000);
});
