// The create path end to end: the seed's VMI goes in through the API and comes
// out a running domain with room for its interfaces, counted from the guest. A
// VMI the composer cannot compose reaches the launcher as a plan that carries
// the reason, and the launcher reports it Failed with that reason.
import { access } from "node:fs/promises";
import { API_SUBJECTS, request } from "@headroom/bus";
import {
  freeHotplugSlots,
  pciAddressesOf,
  readTopology,
  stripPlaceholders,
} from "@headroom/domain-xml";
import { domainNameOf } from "@headroom/host-state";
import { openImageStore, TINY_GUEST_REF, waitForGuestReport } from "@headroom/images";
import { CapacityEventType, DeleteReply, DeleteRequest, Outcome, Phase } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { describe, expect, it } from "vitest";

const stack = useStack();

describe.each(["q35", "pc"])("the seed's VMI on %s", (machine) => {
  const name = `seed-${machine}`;

  it("runs with room for 5 interfaces, no placeholder left, and the guest sees its 2 NICs", async () => {
    const reply = await stack.apply(await stack.seedManifest(name, { machine }));
    expect(reply.rejected?.errors ?? []).toEqual([]);
    expect(reply.accepted?.capacity?.effective).toBe(5);

    const record = await stack.settled(name);
    expect(record.status?.reason ?? "").toBe("");
    expect(record.status?.phase).toBe(Phase.PHASE_RUNNING);
    const capacity = record.status?.capacity;
    expect(capacity?.requested).toBe(5);
    expect(capacity?.effective).toBe(5);
    expect(capacity?.inUse).toBe(2);
    expect(capacity?.free).toBeGreaterThanOrEqual(3);

    const xml = await stack.liveXml(name);
    expect(stripPlaceholders(xml).removed).toBe(0);
    expect(xml).not.toContain("placeholder-");
    const topology = readTopology(xml);
    expect(topology.machine).toBe(machine);
    expect(freeHotplugSlots(topology).length).toBe(capacity?.free);

    const seen = await waitForGuestReport(
      stack.state.consoleLog(stack.namespace, name),
      () => true,
      {
        timeoutMs: 90_000,
      },
    );
    expect(seen.report.nics).toBe(2);

    const events = await stack.capacityEvents(name);
    expect(events.map((e) => e.type)).toEqual([CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED]);
    expect(events[0]?.free).toBe(capacity?.free);
  });

  it("is deleted without a trace: no domain, no status, no files, a released event", async () => {
    const { namespace } = stack;
    const reply = await request(
      stack.nc,
      API_SUBJECTS.delete,
      DeleteRequest,
      { namespace, name },
      DeleteReply,
    );
    expect(reply.deleted).toBe(true);
    const domainName = domainNameOf(namespace, name);
    const deadline = Date.now() + 60_000;
    while (
      (await stack.conn.findDomain(domainName)) !== undefined ||
      (await stack.capacityEvents(name)).length < 2
    ) {
      if (Date.now() > deadline) throw new Error(`${domainName} was not released`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect((await stack.get(name)).found).toBe(false);
    await expect(access(stack.state.vmDir(namespace, name))).rejects.toThrow();
    expect((await stack.capacityEvents(name)).map((e) => e.type)).toEqual([
      CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
      CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED,
    ]);
  });
});

describe("capacity requests around the interface count", () => {
  it.each([0, 1, 32])(
    "request %i leaves at least max(0, request − 2) free slots",
    async (requested) => {
      const name = `req-${requested}`;
      await stack.apply(await stack.seedManifest(name, { request: requested }));
      const record = await stack.settled(name);
      expect(record.status?.phase).toBe(Phase.PHASE_RUNNING);
      expect(record.status?.capacity?.effective).toBe(Math.max(requested, 2));
      const free = freeHotplugSlots(readTopology(await stack.liveXml(name))).length;
      expect(free).toBeGreaterThanOrEqual(Math.max(0, requested - 2));
      expect(record.status?.capacity?.free).toBe(free);
    },
  );

  it("keeps every disk and NIC at the same PCI address for request 0 and request 32", async () => {
    const devicesOf = async (name: string) =>
      Object.fromEntries(
        Object.entries(pciAddressesOf(await stack.liveXml(name))).filter(
          ([id]) => id.startsWith("disk:") || id.startsWith("interface:"),
        ),
      );
    const small = await devicesOf("req-0");
    expect(Object.keys(small)).toHaveLength(3);
    expect(await devicesOf("req-32")).toEqual(small);
  });
});

describe("a running VMI's next generation that cannot be composed", () => {
  it("is Failed with the composer's reason, and the running domain is left as it was", async () => {
    const name = "req-32";
    const running = await stack.settled(name);
    expect(running.status?.phase).toBe(Phase.PHASE_RUNNING);
    const devicesBefore = pciAddressesOf(await stack.liveXml(name));
    const vmi = await stack.seedManifest(name, { request: 32 });
    vmi.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
    vmi.spec.networks.push({ name: "third", multus: { networkName: "nowhere" } });
    const reply = await stack.apply(vmi);
    expect(reply.accepted?.outcome).toBe(Outcome.OUTCOME_UPDATED);
    const generation = Number(reply.accepted?.generation);
    expect(generation).toBe(Number(running.generation) + 1);

    const record = await stack.settled(name, generation);
    expect(record.status?.phase).toBe(Phase.PHASE_FAILED);
    expect(record.status?.reason).toBe(
      "spec.networks[2].multus.networkName: network attachment 'nowhere' does not exist; create it with: headroom network create nowhere --bridge BRIDGE",
    );
    expect(record.status?.observedGeneration).toBe(generation);
    expect(record.status?.node).toBe("");
    const domain = await stack.conn.findDomain(domainNameOf(stack.namespace, name));
    expect(await domain?.isActive()).toBe(true);
    expect(pciAddressesOf(await stack.liveXml(name))).toEqual(devicesBefore);
    expect((await stack.capacityEvents(name)).map((e) => e.type)).toEqual([
      CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
    ]);
  });
});

describe("a VMI that cannot be launched", () => {
  it("is Failed with a reason that names the missing image, and no domain is left", async () => {
    const vmi = await stack.seedManifest("no-image");
    vmi.spec.volumes[0].containerDisk.image = "lab/missing:1";
    await stack.apply(vmi);
    const record = await stack.settled("no-image");
    expect(record.status?.phase).toBe(Phase.PHASE_FAILED);
    expect(record.status?.reason).toContain("lab/missing:1");
    // Neither headroom's image store nor this host has it; no host took the VMI.
    expect(record.status?.reason).toBe(
      "image lab/missing:1 is not in headroom's image store; add it with: headroom image add lab/missing:1 PATH",
    );
    expect(record.status?.node).toBe("");
    expect(await stack.conn.findDomain(domainNameOf(stack.namespace, "no-image"))).toBeUndefined();
  });

  it("runs once the image is added and the same VMI is applied again", async () => {
    const store = openImageStore(stack.state.images);
    await store.add("lab/missing:1", (await store.resolve(TINY_GUEST_REF)).root);
    const vmi = await stack.seedManifest("no-image");
    vmi.spec.volumes[0].containerDisk.image = "lab/missing:1";
    const reply = await stack.apply(vmi);
    expect(reply.accepted?.outcome).toBe(Outcome.OUTCOME_UPDATED);
    const record = await stack.settled("no-image", Number(reply.accepted?.generation));
    expect(record.status?.phase).toBe(Phase.PHASE_RUNNING);
  });
});
