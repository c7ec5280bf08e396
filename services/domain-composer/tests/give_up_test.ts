// A VMI whose composition keeps failing on passing trouble (NATS, a host
// lookup that throws) is not left Pending for ever: after its last delivery
// the composer hands it on as a plan that carries the error, for the launcher
// to report it Failed. A composer in this process, with two deliveries, short
// waits and its network attachments' bucket deleted under it; the test plays
// the validator and reads the plans, so NATS runs without logins.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  acceptedSubject,
  BUCKETS,
  connect,
  createLogger,
  decode,
  encode,
  ensureBuckets,
  generationMsgId,
  type NatsConnection,
  STREAMS,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import { DomainPlan, VmiAccepted } from "@headroom/proto";
import { type NatsServer, startNats } from "@headroom/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Composer, startComposer } from "../src/mod.ts";
import { seedVmi } from "./fixtures.ts";
import { planSubject, registerHost } from "./harness.ts";

let stateDir = "";
let nats: NatsServer;
let nc: NatsConnection;
let composer: Composer | undefined;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), "headroom-give-up-"));
  nats = await startNats();
  nc = await connect({ name: "give-up-test", servers: nats.url });
  composer = await startComposer(nc, {
    log: createLogger("give-up-test", { level: "silent" }),
    env: { HEADROOM_STATE_DIR: stateDir },
    maxDeliver: 2,
    retryDelayMs: () => 50,
  });
  await registerHost(await ensureBuckets(nc));
});

afterAll(async () => {
  await composer?.stop();
  await nc?.close();
  await nats?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

it("hands a VMI that kept failing on passing trouble on as a plan that carries the error", async () => {
  const jsm = await toJetStream(nc).jetstreamManager();
  const vmi = seedVmi((doc) => {
    doc.metadata = { name: "hopeless", namespace: "give-up" };
  });
  const uid = "00000000-0000-4000-8000-00000000dead";
  const accepted = {
    namespace: "give-up",
    name: "hopeless",
    uid,
    generation: 1,
    manifestJson: JSON.stringify(vmi),
  };
  const { vmis } = await ensureBuckets(nc);
  // The seed's bridged network is looked up there: passing trouble, never the VMI's fault.
  await jsm.streams.delete(`KV_${BUCKETS.networks}`);
  await vmis.put(storeKey("give-up", "hopeless"), encode(VmiAccepted, accepted));
  await toJetStream(nc).publish(
    acceptedSubject("give-up", "hopeless"),
    encode(VmiAccepted, accepted),
    { msgID: generationMsgId(uid, 1) },
  );

  const lastPlan = () =>
    jsm.streams
      .getMessage(STREAMS.hostWork, { last_by_subj: planSubject("give-up", "hopeless") })
      .catch(() => null);
  const deadline = Date.now() + 20_000;
  let stored = await lastPlan();
  while (!stored) {
    if (Date.now() > deadline) throw new Error("no plan was handed on");
    await new Promise((resolve) => setTimeout(resolve, 100));
    stored = await lastPlan();
  }
  const plan = decode(DomainPlan, stored.data);
  // Whatever NATS answered (a timeout, no such stream), it is said, and it is not a field of the VMI.
  expect(plan.composeFailure).toMatch(/^the domain could not be composed: (timeout|.*stream)/);
  expect(plan).toMatchObject({ namespace: "give-up", name: "hopeless", uid, generation: 1 });
  expect(plan.domainXml).toBe("");
  expect(stored.header?.get("Nats-Msg-Id")).toBe(`${uid}:1:plan`);
});
