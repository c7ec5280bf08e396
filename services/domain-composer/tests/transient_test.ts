import { BUCKETS, ensureBuckets } from "@headroom/bus";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SEED_NETWORK, seedVmi } from "./fixtures.ts";
import {
  accept,
  consumed,
  countOn,
  createNetwork,
  type Harness,
  lastPlan,
  planSubject,
  startHarness,
  statusOf,
  waitFor,
} from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await startHarness(1);
});

afterAll(async () => {
  await h?.stop();
});

it("retries a VMI when NATS fails it, and composes it once NATS answers again", async () => {
  // The networks bucket is gone: reading it fails, which is NATS trouble, not the VMI's.
  await h.jsm.streams.delete(`KV_${BUCKETS.networks}`);
  const vmi = seedVmi((doc) => {
    doc.metadata = { name: "patient", namespace: "transient" };
  });
  await accept(h, vmi, { uid: "00000000-0000-4000-8000-00000000abcd" });
  const composer = h.composers[0];
  if (!composer) throw new Error("no composer");
  await composer.waitForLog("message failed, will retry", 20_000);
  // Not failed: nothing is written until the VMI could be composed.
  expect(await statusOf(h, "transient", "patient")).toBeNull();
  expect(await countOn(h, planSubject("transient", "patient"))).toBe(0);

  // The bucket and the attachment come back: the redelivery composes the VMI.
  await ensureBuckets(h.nc);
  expect((await createNetwork(h.nc, SEED_NETWORK, "hrtrans0")).result).toBe("created");
  const { plan } = await waitFor(
    "the plan after the retry",
    () => lastPlan(h, "transient", "patient"),
    30_000,
  );
  expect(plan.bridges).toEqual(["hrtrans0"]);
  expect(plan.composeFailure).toBe("");
  await consumed(h, "transient", "patient");
  expect(await countOn(h, planSubject("transient", "patient"))).toBe(1);
  // The launcher writes the status once it takes the plan; the composer writes none.
  expect(await statusOf(h, "transient", "patient")).toBeNull();
});
