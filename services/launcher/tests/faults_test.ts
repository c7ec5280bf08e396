// Faults around the services: nats-server restarted mid-batch, libvirtd
// restarted under a running VMI, a guest that never acknowledges an unplug.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { API_SUBJECTS, request } from "@headroom/bus";
import { domainNameOf } from "@headroom/host-state";
import {
  InterfaceReply,
  InterfaceState,
  Phase,
  RemoveInterfaceRequest,
  type VmiStatus,
} from "@headroom/proto";
import { uniqueNamespace } from "@headroom/test-stack";
import { useStack } from "@headroom/test-stack/vitest";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("faults around the services", () => {
  const stack = useStack({
    namespace: uniqueNamespace("crash"),
    // A paused guest never answers an unplug; the test should not wait 30 s for that.
    env: { HEADROOM_DETACH_TIMEOUT_MS: "3000", HEADROOM_UNPLUG_RETRY_MS: "2000" },
  });

  /** Applies until accepted (a reply can be lost while a server restarts). */
  const create = async (name: string, requested: number) => {
    const manifest = await stack.seedManifest(name, { request: requested });
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await stack.apply(manifest, 5000);
        expect(reply.rejected).toBeFalsy();
        return reply.accepted?.uid ?? "";
      } catch (error) {
        if (attempt >= 20) throw error;
        await sleep(500);
      }
    }
  };

  const settled = async (name: string, generation = 0): Promise<VmiStatus> => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const reply = await stack.get(name).catch(() => null);
      const status = reply?.vmi?.status;
      if (
        status &&
        (status.phase === Phase.PHASE_RUNNING || status.phase === Phase.PHASE_FAILED) &&
        Number(status.observedGeneration) >= generation
      )
        return status as VmiStatus;
      if (Date.now() > deadline) throw new Error(`vmi ${name} did not settle`);
      await sleep(500);
    }
  };

  const expectRunning = async (name: string, uid: string) => {
    const status = await settled(name);
    expect(status.phase, status.reason ?? "").toBe(Phase.PHASE_RUNNING);
    expect(status.uid).toBe(uid);
    const domain = await stack.conn.lookupByName(domainNameOf(stack.namespace, name));
    expect(domain.uuid.toLowerCase()).toBe(uid.toLowerCase());
    expect(await domain.isActive()).toBe(true);
  };

  it("loses nothing accepted when nats-server restarts mid-batch", async () => {
    const uids = await Promise.all([create("nats-0", 0), create("nats-1", 4), create("nats-2", 8)]);
    // The plans are in flight (composer and launcher work through them one by one).
    await stack.nats.restart();
    for (const [index, uid] of uids.entries()) await expectRunning(`nats-${index}`, uid);
    expect((await stack.domains()).sort()).toEqual(
      ["nats-0", "nats-1", "nats-2"].map((n) => domainNameOf(stack.namespace, n)),
    );
  }, 170_000);

  it("keeps running domains and their capacity when libvirtd restarts, and launches what came meanwhile", async () => {
    const before = await stack.describe("nats-1");
    expect(before.found).toBe(true);
    const free = before.live?.capacity?.free;
    expect(free).toBeGreaterThan(0);

    await run("pkill", ["-x", "libvirtd"]);
    // Wait for the old daemon to be gone before starting the new one (pid file).
    for (let i = 0; i < 50; i++) {
      const alive = await run("pgrep", ["-x", "libvirtd"]).then(
        () => true,
        () => false,
      );
      if (!alive) break;
      await sleep(100);
    }
    // A VMI created while libvirtd is away: its launch fails, and is retried.
    const pending = create("after-libvirtd", 3);
    await stack.service("launcher").waitForLog(/is not connected; reconnecting/, 30_000);
    await run("libvirtd", ["-d"]);
    for (let i = 0; ; i++) {
      const ok = await run("virsh", ["-c", "qemu:///system", "version"], { timeout: 10_000 }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      if (i > 60) throw new Error("libvirtd did not come back");
      await sleep(500);
    }
    await stack.reopenLibvirt();
    await stack.service("launcher").waitForLog(/libvirt reconnected/, 30_000);
    // The same process carries on: it reconnected instead of exiting.
    expect(() => process.kill(stack.service("launcher").pid, 0)).not.toThrow();

    const uid = await pending;
    await expectRunning("after-libvirtd", uid);
    const after = await stack.describe("nats-1");
    expect(after.found).toBe(true);
    expect(after.live?.capacity?.free).toBe(free);
    expect(after.live?.phase).toBe(Phase.PHASE_RUNNING);
  }, 170_000);

  it("reports an unplug a paused guest never acknowledges as failed, keeps the NIC, and unplugs it once the guest answers", async () => {
    const name = "nats-1";
    const before = await stack.describe(name);
    const capacityBefore = before.live?.capacity;
    const domain = await stack.conn.lookupByName(domainNameOf(stack.namespace, name));
    await domain.suspend();
    try {
      const started = Date.now();
      const reply = await request(
        stack.nc,
        API_SUBJECTS.removeInterface,
        RemoveInterfaceRequest,
        { namespace: stack.namespace, name, interfaceName: "secondary" },
        InterfaceReply,
        { timeoutMs: 60_000 },
      );
      // The validator takes the change as the VMI's next generation; the
      // launcher's status for it tells that the guest kept the NIC.
      expect(reply.ok).toBe(true);
      const status = await settled(name, Number(reply.generation));
      expect(Date.now() - started).toBeLessThan(45_000);
      const secondary = status.interfaces?.find((i) => i.name === "secondary");
      expect(secondary?.state).toBe(InterfaceState.INTERFACE_STATE_DETACHING);
      expect(status.reason).toMatch(/^secondary: /);
      const after = await stack.describe(name);
      expect(after.live?.interfaces?.find((i) => i.name === "secondary")?.state).toBe(
        InterfaceState.INTERFACE_STATE_ATTACHED,
      );
      expect(after.live?.capacity?.free).toBe(capacityBefore?.free);
      expect(after.live?.capacity?.inUse).toBe(capacityBefore?.inUse);
      // Still paused, the guest is asked again, and again keeps it.
      await stack
        .service("launcher")
        .waitForLog(/the guest still holds interfaces its VMI dropped; asking again later/, 30_000);
    } finally {
      await domain.resume();
    }

    // Awake again, the guest is asked once more and lets the NIC go: the VMI
    // ends as it was asked to be, with the slot back and the detach reported.
    const deadline = Date.now() + 60_000;
    let status = (await stack.get(name)).vmi?.status;
    while (status?.interfaces?.some((i) => i.name === "secondary")) {
      if (Date.now() > deadline) throw new Error(`secondary still attached: ${status.reason}`);
      await sleep(500);
      status = (await stack.get(name)).vmi?.status;
    }
    expect(status?.reason ?? "").toBe("");
    const released = await stack.describe(name);
    expect(released.live?.interfaces?.map((i) => i.name)).not.toContain("secondary");
    expect(released.live?.capacity?.free).toBe((capacityBefore?.free ?? 0) + 1);
    expect(released.live?.capacity?.inUse).toBe((capacityBefore?.inUse ?? 0) - 1);
    await stack
      .service("launcher")
      .waitForLog(/interface detached( on retry|: the guest released it late)/, 5_000);
  }, 180_000);
});
