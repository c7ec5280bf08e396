// HEADROOM_LAUNCHER_DEFINE_ONLY (the benchmarks' control-plane mode): the
// domain is defined with the room its VMI asked for and never started; its
// status stays Scheduled with that capacity, the reserved event goes out, and
// a delete undefines it.
import { domainNameOf } from "@headroom/host-state";
import { CapacityEventType, Phase } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { describe, expect, it } from "vitest";

const stack = useStack({ env: { HEADROOM_LAUNCHER_DEFINE_ONLY: "1" } });
const RESERVED = CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED;
const RELEASED = CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED;

async function eventually<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("a launcher in define-only mode", () => {
  it("defines the domain with its room, never starts it, and undefines it on delete", async () => {
    const name = "defined";
    const applied = await stack.apply(await stack.seedManifest(name, { request: 8 }));
    expect(applied.rejected?.errors ?? []).toEqual([]);

    const reserved = await eventually("the reserved event", async () =>
      (await stack.capacityEvents(name)).find((event) => event.type === RESERVED),
    );
    // The seed VMI has two NICs: room for 6 more.
    expect(reserved.free).toBeGreaterThanOrEqual(6);
    const status = (await stack.get(name)).vmi?.status;
    expect(status?.phase).toBe(Phase.PHASE_SCHEDULED);
    expect(status?.capacity?.free).toBe(reserved.free);

    const domain = await stack.conn.findDomain(domainNameOf(stack.namespace, name));
    expect(domain).toBeDefined();
    expect(await domain?.isActive()).toBe(false);
    expect(await domain?.getXmlDesc({ inactive: true })).toMatch(/pcie-root-port/);

    expect((await stack.delete(name)).deleted).toBe(true);
    await eventually("the released event", async () =>
      (await stack.capacityEvents(name)).find((event) => event.type === RELEASED),
    );
    expect(await stack.conn.findDomain(domainNameOf(stack.namespace, name))).toBeUndefined();
  }, 240_000);
});
