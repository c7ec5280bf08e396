// Deleting a VMI as KubeVirt does: the guest's ACPI power button, then the
// domain destroyed once terminationGracePeriodSeconds is over. The tiny guest
// reports the press on its console and powers off; a paused guest cannot, and
// is destroyed after its grace period; 0 destroys at once.

import { readFile } from "node:fs/promises";
import { domainNameOf } from "@headroom/host-state";
import { waitForGuestReport } from "@headroom/images";
import { CapacityEventType, Phase } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { describe, expect, it } from "vitest";

const stack = useStack({ env: { HEADROOM_VIRT_TYPE: "qemu" } });
const RELEASED = CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED;
const SHUTDOWN_LINE = "headroom-guest: acpi-shutdown";

/** Applies the seed VMI as `name` with `grace` (none: KubeVirt's default), Running and reporting. */
async function running(name: string, grace?: number): Promise<string> {
  const vmi = await stack.seedManifest(name);
  if (grace !== undefined) vmi.spec.terminationGracePeriodSeconds = grace;
  expect((await stack.apply(vmi)).rejected?.errors ?? []).toEqual([]);
  expect((await stack.settled(name)).status?.phase).toBe(Phase.PHASE_RUNNING);
  const console = stack.state.consoleLog(stack.namespace, name);
  await waitForGuestReport(console, () => true, { timeoutMs: 90_000 });
  return console;
}

/**
 * Deletes `name`; resolves with the ms until the launcher reported it
 * released, and the guest's console as last seen (the release removes it).
 */
async function deleted(name: string, console: string): Promise<{ ms: number; seen: string }> {
  const started = Date.now();
  expect((await stack.delete(name)).deleted).toBe(true);
  const deadline = started + 90_000;
  let seen = "";
  while ((await stack.capacityEvents(name)).at(-1)?.type !== RELEASED) {
    if (Date.now() > deadline) throw new Error(`${name} was not released in time`);
    seen = await readFile(console, "utf8").catch(() => seen);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { ms: Date.now() - started, seen };
}

describe("deleting a running VMI", () => {
  it("presses the guest's power button, and the guest shuts down well within the default 30 s", async () => {
    const { ms, seen } = await deleted("polite", await running("polite"));
    expect(seen).toContain(SHUTDOWN_LINE);
    expect(ms).toBeLessThan(30_000);
    expect(stack.service("launcher").logs()).toMatch(/"graceSeconds":30[^\n]*guest shut down/);
    expect(await stack.conn.findDomain(domainNameOf(stack.namespace, "polite"))).toBeUndefined();
  }, 240_000);

  it("destroys a guest that does not shut down once its grace period is over", async () => {
    const console = await running("hung", 3);
    // A paused guest cannot answer the button.
    await (await stack.conn.findDomain(domainNameOf(stack.namespace, "hung")))?.suspend();
    const { ms } = await deleted("hung", console);
    expect(ms).toBeGreaterThanOrEqual(3_000);
    expect(stack.service("launcher").logs()).toMatch(
      /"graceSeconds":3[^\n]*did not shut down within its grace period; destroying it/,
    );
    expect(await stack.conn.findDomain(domainNameOf(stack.namespace, "hung"))).toBeUndefined();
  }, 240_000);

  it("destroys the domain at once with terminationGracePeriodSeconds: 0", async () => {
    const { seen } = await deleted("abrupt", await running("abrupt", 0));
    expect(seen).toContain("headroom-guest: nics=");
    expect(seen).not.toContain(SHUTDOWN_LINE);
    expect(await stack.conn.findDomain(domainNameOf(stack.namespace, "abrupt"))).toBeUndefined();
  }, 240_000);
});
