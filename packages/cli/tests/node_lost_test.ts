// Losing a host, through the CLI under the shipped permissions: hv-b's
// launcher is SIGKILLed and its guests stopped. Its VMIs turn Unknown once the
// host is NotReady (3 heartbeats), then Failed with reason NodeLost after the
// host's lost-after time, with a node-lost capacity event; new VMIs go to hv-a;
// hv-b started again removes the domain of a VMI deleted meanwhile and says
// the truth of the other.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { domainNameOf } from "@headroom/host-state";
import { Phase } from "@headroom/proto";
import type { ServiceProcess } from "@headroom/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { applyAndWait, headroom } from "./run.ts";

const NS = "cli-lost";
const HEARTBEAT_MS = 500;
const LOST_AFTER_MS = 4000;
const timing = {
  HEADROOM_HEARTBEAT_MS: String(HEARTBEAT_MS),
  HEADROOM_NODE_LOST_AFTER_MS: String(LOST_AFTER_MS),
};
const handle = useCliStack({
  namespace: NS,
  env: { HEADROOM_NODE_NAME: "hv-a", HEADROOM_NODE_LABELS: "zone=a", ...timing },
});
const hvB = { HEADROOM_NODE_NAME: "hv-b", HEADROOM_NODE_LABELS: "zone=b", ...timing };
let launcherB: ServiceProcess;
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(`${tmpdir()}/headroom-node-lost-`);
  launcherB = await handle.stack.start("launcher", hvB);
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** PHASE and REASON of `get vmi NAME -o wide`. */
async function phaseOf(name: string): Promise<{ phase: string; reason: string }> {
  const run = await headroom([...handle.cli, "get", "vmi", name, "-o", "wide"]);
  expect(run.code, run.stderr).toBe(0);
  const row = run.stdout.trimEnd().split("\n")[1] ?? "";
  const columns = row.split(/ +/);
  // NAME PHASE CAPACITY FREE NODE AGE REQUESTED IN-USE CONTROLLERS REASON (with spaces)
  return { phase: columns[1] ?? "", reason: columns.slice(9).join(" ") };
}

async function until(name: string, phase: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await phaseOf(name);
    if (seen.phase === phase) return seen;
    if (Date.now() > deadline) throw new Error(`${name} never ${phase}: ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it("turns a lost host's VMIs Unknown, then Failed NodeLost; the host back reconciles", async () => {
  for (const name of ["kept", "gone"]) {
    const vmi = await handle.stack.seedManifest(name);
    vmi.spec.nodeSelector = { zone: "b" };
    const run = await applyAndWait(handle.cli, dir, name, vmi);
    expect(run.code, run.stderr).toBe(0);
    expect((await handle.stack.settled(name)).status?.node).toBe("hv-b");
  }

  // hv-b dies: its guests stopped, its launcher SIGKILLed.
  for (const name of ["kept", "gone"]) {
    await (await handle.stack.conn.findDomain(domainNameOf(NS, name)))?.destroy();
  }
  const killedAt = Date.now();
  await launcherB.kill();
  const unknown = await until("kept", "Unknown", 10_000);
  const unknownAfter = Date.now() - killedAt;
  expect(unknown.reason).toMatch(/^host hv-b is NotReady \(no heartbeat for \d+ s/);
  const failed = await until("kept", "Failed", 15_000);
  const lostAfter = Date.now() - killedAt;
  expect(failed.reason).toMatch(/^NodeLost: host hv-b has been NotReady for \d+ s/);
  console.log(
    `host death → Unknown ${unknownAfter} ms (NotReady after 3 × ${HEARTBEAT_MS} ms), → NodeLost ${lostAfter} ms (lost after ${LOST_AFTER_MS} ms more)`,
  );
  // Not bounded below: a launcher slowed by a loaded machine may have sent its
  // last heartbeat well before the kill; the reasons above say what was counted.

  // The composer looks for lost hosts every second: the event follows within one.
  let events = "";
  for (let i = 0; i < 30 && !events.includes("node-lost"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    events = (await headroom([...handle.cli, "events", "--vmi", "kept"])).stdout;
  }
  expect(events.match(/node-lost/g)?.length).toBe(1);
  expect(events).toMatch(/node-lost .*NodeLost: host hv-b/);

  // New VMIs go to the host that is left.
  const after = await applyAndWait(
    handle.cli,
    dir,
    "after",
    await handle.stack.seedManifest("after"),
  );
  expect(after.code, after.stderr).toBe(0);
  expect((await handle.stack.settled("after")).status?.node).toBe("hv-a");

  // One VMI is deleted while hv-b is away; the deletion waits for hv-b.
  const deleted = await headroom([...handle.cli, "delete", "vmi", "gone"]);
  expect(deleted.code, deleted.stderr).toBe(0);
  expect(await handle.stack.conn.findDomain(domainNameOf(NS, "gone"))).toBeDefined();

  // hv-b comes back: the deleted VMI's domain goes, the other says what happened to it.
  launcherB = await handle.stack.start("launcher", hvB);
  const deadline = Date.now() + 30_000;
  while (await handle.stack.conn.findDomain(domainNameOf(NS, "gone"))) {
    if (Date.now() > deadline) throw new Error("the deleted VMI's domain was not removed");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const back = await until("kept", "Failed", 10_000);
  expect(back.reason).toBe("its domain stopped while this host's launcher was away");
  const record = await handle.stack.settled("kept");
  expect(record.status?.phase).toBe(Phase.PHASE_FAILED);
  expect((await handle.stack.settled("after")).status?.phase).toBe(Phase.PHASE_RUNNING);
});
