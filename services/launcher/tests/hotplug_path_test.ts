// Spending the reserved room end to end: NICs hot-plugged declaratively (apply
// with one more interface) and imperatively (addinterface), until headroom
// refuses; one unplugged and plugged back. The guest counts every step and
// the capacity event stream, replayed, tells the same story.
import { API_SUBJECTS, request } from "@headroom/bus";
import { waitForGuestReport } from "@headroom/images";
import {
  AddInterfaceRequest,
  CapacityEventType,
  InterfaceReply,
  InterfaceState,
  Phase,
  RemoveInterfaceRequest,
} from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { startService } from "@headroom/testing";
import { withInterfaceAdded } from "@headroom/vmi";
import { describe, expect, it } from "vitest";

const stack = useStack();
const { ATTACHED, DETACHED, EXHAUSTED, RESERVED } = {
  ATTACHED: CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED,
  DETACHED: CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED,
  EXHAUSTED: CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
  RESERVED: CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
};

/**
 * addinterface as the CLI does it: the validator's reply names the generation
 * that carries the NIC, and the launcher's status for it tells how it went.
 */
async function addInterface(name: string, iface: string) {
  const reply = await request(
    stack.nc,
    API_SUBJECTS.addInterface,
    AddInterfaceRequest,
    { namespace: stack.namespace, name, interfaceName: iface, networkName: "headroom-bridge" },
    InterfaceReply,
    { timeoutMs: 120_000 },
  );
  if (!reply.ok) return { reply, status: undefined };
  const settled = await stack.settled(name, Number(reply.generation));
  return { reply, status: settled.status ?? undefined };
}

describe.each(["q35", "pc"])("hot-plug into the seed's VMI on %s", (machine) => {
  const name = `plug-${machine}`;

  it("plugs 3 NICs (declaratively and imperatively), goes on until refused, unplugs one and plugs it back", async () => {
    const manifest = await stack.seedManifest(name, { machine });
    await stack.apply(manifest);
    const first = await stack.settled(name);
    expect(first.status?.phase).toBe(Phase.PHASE_RUNNING);
    const free = first.status?.capacity?.free ?? 0;
    expect(free).toBeGreaterThanOrEqual(3);
    const console = stack.state.consoleLog(stack.namespace, name);
    const guestSees = async (nics: number) =>
      (await waitForGuestReport(console, (r) => r.nics === nics, { timeoutMs: 60_000 })).report
        .nics;
    expect(await guestSees(2)).toBe(2);

    // Declaratively: the same VMI applied again with one more interface.
    const withThird = withInterfaceAdded(
      first.manifestJson ? JSON.parse(first.manifestJson) : manifest,
      {
        name: "third",
        networkName: "headroom-bridge",
      },
    );
    const applied = await stack.apply(withThird);
    expect(applied.rejected?.errors ?? []).toEqual([]);
    const second = await stack.settled(name, Number(applied.accepted?.generation));
    expect(second.status?.interfaces?.find((i) => i.name === "third")?.state).toBe(
      InterfaceState.INTERFACE_STATE_ATTACHED,
    );
    expect(await guestSees(3)).toBe(3);

    // Imperatively, until headroom says no.
    let plugged = 1;
    for (;;) {
      const { reply, status } = await addInterface(name, `extra${plugged}`);
      if (!reply.ok) {
        expect(reply.reason).toBe("Exhausted");
        expect(reply.message).toContain(`vmi ${stack.namespace}/${name}`);
        expect(reply.message).toContain("asked for 5");
        expect(reply.message).toContain(`${2 + plugged} in use`);
        break;
      }
      const added = status?.interfaces?.find((i) => i.name === `extra${plugged}`);
      expect(added?.state).toBe(InterfaceState.INTERFACE_STATE_ATTACHED);
      plugged += 1;
      expect(status?.capacity?.inUse).toBe(2 + plugged);
      expect(await guestSees(2 + plugged)).toBe(2 + plugged);
    }
    expect(plugged).toBe(free);
    expect(plugged).toBeGreaterThanOrEqual(3);
    // The refusal left the VMI as it was.
    const refusedAt = await stack.get(name);
    expect(
      JSON.parse(refusedAt.vmi?.manifestJson ?? "{}").spec.domain.devices.interfaces,
    ).toHaveLength(2 + plugged);

    const removed = await request(
      stack.nc,
      API_SUBJECTS.removeInterface,
      RemoveInterfaceRequest,
      { namespace: stack.namespace, name, interfaceName: "third" },
      InterfaceReply,
      { timeoutMs: 120_000 },
    );
    expect(removed.ok).toBe(true);
    const afterRemove = await stack.settled(name, Number(removed.generation));
    expect(afterRemove.status?.interfaces?.map((i) => i.name)).not.toContain("third");
    expect(await guestSees(1 + plugged)).toBe(1 + plugged);
    const back = await addInterface(name, "third");
    expect(back.reply.ok).toBe(true);
    expect(back.status?.interfaces?.find((i) => i.name === "third")?.state).toBe(
      InterfaceState.INTERFACE_STATE_ATTACHED,
    );
    expect(await guestSees(2 + plugged)).toBe(2 + plugged);

    // The stream, replayed from the start, tells the same story with counts that add up.
    const events = await stack.capacityEvents(name);
    expect(events.map((e) => e.type)).toEqual([
      RESERVED,
      ...Array(plugged).fill(ATTACHED),
      EXHAUSTED,
      DETACHED,
      ATTACHED,
    ]);
    for (const event of events) {
      expect(event.free + event.inUse).toBe(free + 2);
      expect(event.requested).toBe(5);
    }
    expect(events.map((e) => e.inUse)).toEqual([
      2,
      ...Array.from({ length: plugged }, (_, i) => 3 + i),
      2 + plugged,
      1 + plugged,
      2 + plugged,
    ]);

    // The README's example subscriber tells the same story.
    const subscriber = startService("examples/capacity-subscriber.ts", stack.clientEnv);
    // Without arguments it follows every VMI; the last event of this one is the re-attach.
    const vmi = `${stack.namespace}/${name}`;
    try {
      await subscriber.waitForLog(
        new RegExp(`${vmi} detached third[\\s\\S]*${vmi} attached third`),
        30_000,
      );
      const lines = subscriber
        .logs()
        .split("\n")
        .filter((line) => line.includes(` ${vmi} `));
      expect(lines.map((line) => line.split(" ")[2]?.replace(":", ""))).toEqual([
        "reserved",
        ...Array(plugged).fill("attached"),
        "exhausted",
        "detached",
        "attached",
      ]);
    } finally {
      await subscriber.stop();
    }
  });
});
