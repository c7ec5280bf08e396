// The composer over a real nats-server, fed random bytes and oversized requests on its
// endpoints and garbage on the pipeline subject it consumes: error replies, garbage
// terminated (not redelivered forever), and real work still done afterwards.
import { randomBytes } from "node:crypto";
import {
  API_SUBJECTS,
  DURABLES,
  encode,
  MAX_REQUEST_BYTES,
  request,
  SERVICE_NAMES,
  STREAMS,
  toJetStream,
} from "@headroom/bus";
import { ListNetworksReply, ListNetworksRequest, VmiAccepted } from "@headroom/proto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEED_NETWORK, seedVmi } from "./fixtures.ts";
import { accept, createNetwork, type Harness, lastPlan, startHarness, waitFor } from "./harness.ts";

const SEED = Number(process.env.HEADROOM_FUZZ_SEED ?? 20261128);
let h: Harness;

beforeAll(async () => {
  h = await startHarness(1);
  const created = await createNetwork(h.nc, SEED_NETWORK, "hrfuzz1");
  expect(created.error ?? "").toBe("");
});

afterAll(async () => {
  await h?.stop();
});

async function ping(): Promise<number> {
  const reply = await h.nc.request(`$SRV.PING.${SERVICE_NAMES.composer}`, undefined, {
    timeout: 5000,
  });
  return reply.data.length;
}

const GARBAGE = [
  ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { seed: SEED, numRuns: 20 }),
  Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
  Uint8Array.from([0x0f]),
  Uint8Array.from([0x0a, 0x05, 0x41]),
];

describe("the composer under garbage", () => {
  it("answers random bytes and oversized requests on every endpoint with an error reply", async () => {
    const subjects = [
      API_SUBJECTS.createNetwork,
      API_SUBJECTS.deleteNetwork,
      API_SUBJECTS.listNetworks,
    ];
    let errorReplies = 0;
    for (const subject of subjects) {
      for (const data of [...GARBAGE, randomBytes(MAX_REQUEST_BYTES + 1)]) {
        const reply = await h.nc.request(subject, data, { timeout: 5000 });
        const code = reply.headers?.get("Nats-Service-Error-Code");
        if (code) errorReplies++;
        if (data.length > MAX_REQUEST_BYTES) expect(code).toBe("413");
      }
    }
    expect(errorReplies).toBeGreaterThan(subjects.length * 4);
    expect(await ping()).toBeGreaterThan(0);
  });

  it("terminates garbage on the accepted subject and still composes a real VMI afterwards", async () => {
    const js = toJetStream(h.nc);
    const bodies: Uint8Array[] = [
      ...GARBAGE,
      new Uint8Array(0),
      // Well-formed messages whose content is nonsense.
      encode(VmiAccepted, {}),
      encode(VmiAccepted, { namespace: "x", name: "y", uid: "u", generation: 1 }),
      encode(VmiAccepted, {
        namespace: "x",
        name: "y",
        uid: "u",
        generation: 1,
        manifestJson: "{not json",
      }),
      encode(VmiAccepted, {
        namespace: "x",
        name: "y",
        uid: "u",
        generation: 1,
        manifestJson: JSON.stringify({ kind: "<domain/>", spec: "$(reboot)" }),
      }),
      randomBytes(1024 * 1024 + 100),
    ];
    for (const [i, body] of bodies.entries()) {
      await js.publish("headroom.pipeline.accepted.x.y", body, { msgID: `garbage-${i}` });
    }
    // Every garbage message leaves the consumer's hands for good: nothing pending, nothing unacked.
    await waitFor(
      "the composer to finish with the garbage",
      async () => {
        const info = await h.jsm.consumers.info(STREAMS.pipeline, DURABLES.composerAccepted);
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      30_000,
    );
    const before = await h.jsm.consumers.info(STREAMS.pipeline, DURABLES.composerAccepted);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await h.jsm.consumers.info(STREAMS.pipeline, DURABLES.composerAccepted);
    // Not coming back: no further deliveries once handled.
    expect(after.delivered.stream_seq).toBe(before.delivered.stream_seq);
    expect(after.num_redelivered).toBe(before.num_redelivered);
    expect(after.num_ack_pending).toBe(0);
    expect(h.composers[0]?.logs()).toMatch(/message refused for good|message given up/);

    // Real work still flows.
    const vmi = seedVmi((doc) => {
      doc.metadata = { name: "after-garbage", namespace: "fuzz" };
    });
    await accept(h, vmi, { uid: "00000000-0000-4000-8000-00000000f022" });
    const planned = await waitFor("a plan after the garbage", () =>
      lastPlan(h, "fuzz", "after-garbage"),
    );
    expect(planned.plan.domainXml).toContain("<domain");
    expect(await ping()).toBeGreaterThan(0);
  });

  it("refuses 200 generated network attachments with bad names or bridges, and stores only valid ones", async () => {
    const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
    const INTERFACE_NAME = /^[A-Za-z0-9_-]{1,15}$/;
    const nasty = fc.oneof(
      fc.constantFrom(
        "",
        "lo",
        "br0; ip link del eth0",
        "$(reboot)",
        "<bridge/>",
        "../../x",
        "a".repeat(16),
        "a".repeat(64),
        "Br0",
        "br 0",
        "br\n0",
        "🦄",
      ),
      fc.stringMatching(/^[a-z0-9-]{1,16}$/),
      fc.string({ unit: "grapheme", maxLength: 20 }),
    );
    const pairs = fc.sample(fc.tuple(nasty, nasty), { seed: SEED, numRuns: 200 });
    let created = 0;
    for (const [name, bridge] of pairs) {
      const reply = await createNetwork(h.nc, name, bridge);
      const valid = DNS_LABEL.test(name) && INTERFACE_NAME.test(bridge) && bridge !== "lo";
      if (reply.error) {
        expect(reply.error.length).toBeLessThan(2000);
      } else {
        expect(valid).toBe(true);
        created++;
      }
    }
    const list = await request(
      h.nc,
      API_SUBJECTS.listNetworks,
      ListNetworksRequest,
      {},
      ListNetworksReply,
    );
    for (const network of list.networks) {
      expect(network.name).toMatch(DNS_LABEL);
      expect(network.bridge).toMatch(INTERFACE_NAME);
    }
    console.log(`composer networks: ${created} created of ${pairs.length}`);
    expect(await ping()).toBeGreaterThan(0);
  });
});
