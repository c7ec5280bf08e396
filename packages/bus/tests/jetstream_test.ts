import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VmiAccepted } from "@headroom/proto";
import { type NatsServer, repoRoot, startNats } from "@headroom/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptedSubject,
  BUCKET_LIMITS,
  BUCKETS,
  connect,
  decode,
  encode,
  ensureBuckets,
  ensureCredentials,
  ensureImageObjects,
  ensureStreams,
  generationMsgId,
  IMAGE_STORE_MAX_BYTES,
  isWrongLastSequence,
  OBJECT_STORES,
  STREAM_CONFIGS,
  STREAMS,
  serverEnv,
  toJetStream,
} from "../src/mod.ts";

let nats: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  nc = await connect({ name: "bus-test", servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe("ensureStreams", () => {
  it("creates the streams once and is idempotent, also when called concurrently", async () => {
    await Promise.all([ensureStreams(nc), ensureStreams(nc), ensureStreams(toJetStream(nc))]);
    await ensureStreams(nc);
    const jsm = await jetstreamManager(nc);
    const pipeline = await jsm.streams.info(STREAMS.pipeline);
    expect(pipeline.config.subjects).toEqual(["headroom.pipeline.>"]);
    expect(pipeline.config.retention).toBe("workqueue");
    expect(pipeline.config.storage).toBe("file");
    expect(pipeline.config.duplicate_window).toBe(120_000_000_000);
    const capacity = await jsm.streams.info(STREAMS.capacity);
    expect(capacity.config.subjects).toEqual(["headroom.capacity.>"]);
    expect(capacity.config.retention).toBe("limits");
  });

  it("leaves a changed limit as it is, and says so", async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.update(STREAMS.capacity, { max_msgs_per_subject: 5 });
    expect(await ensureStreams(nc)).toEqual([
      `stream ${STREAMS.capacity}: max_msgs_per_subject is 5, headroom creates it with 10000; left as it is`,
    ]);
    expect((await jsm.streams.info(STREAMS.capacity)).config.max_msgs_per_subject).toBe(5);
    await jsm.streams.update(STREAMS.capacity, { max_msgs_per_subject: 10_000 });
    expect(await ensureStreams(nc)).toEqual([]);
  });

  it("deduplicates pipeline messages by message id", async () => {
    await ensureStreams(nc);
    const js = toJetStream(nc);
    const subject = acceptedSubject("dedup", "vm1");
    const data = encode(VmiAccepted, { namespace: "dedup", name: "vm1", uid: "u1", generation: 1 });
    const first = await js.publish(subject, data, { msgID: generationMsgId("u1", 1) });
    const again = await js.publish(subject, data, { msgID: generationMsgId("u1", 1) });
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage(STREAMS.pipeline, { last_by_subj: subject });
    expect(decode(VmiAccepted, stored?.data ?? new Uint8Array()).uid).toBe("u1");
    const info = await jsm.streams.info(STREAMS.pipeline, { subjects_filter: subject });
    expect(info.state.subjects?.[subject]).toBe(1);
  });
});

describe("ensureBuckets", () => {
  it("creates the buckets, opens them again, and KV create is create-only", async () => {
    const buckets = await ensureBuckets(nc);
    const again = await ensureBuckets(nc);
    expect(buckets.vmis.constructor.name).toBe("Bucket");
    const status = await buckets.vmis.status();
    expect(status.bucket).toBe(BUCKETS.vmis);
    expect(status.history).toBe(10);
    expect((await again.status.status()).history).toBe(1);
    expect((await again.networks.status()).bucket).toBe(BUCKETS.networks);

    const revision = await buckets.vmis.create("ns.vm", new Uint8Array([1]));
    const lost = await again.vmis.create("ns.vm", new Uint8Array([2])).catch((error) => error);
    expect(isWrongLastSequence(lost)).toBe(true);
    const stale = await again.vmis
      .update("ns.vm", new Uint8Array([3]), revision + 100)
      .catch((e) => e);
    expect(isWrongLastSequence(stale)).toBe(true);
    await buckets.vmis.update("ns.vm", new Uint8Array([4]), revision);
    expect(Array.from((await buckets.vmis.get("ns.vm"))?.value ?? [])).toEqual([4]);
  });
});

describe("bounds", () => {
  it("give every stream and bucket a byte limit and a message size limit", async () => {
    await ensureStreams(nc);
    await ensureBuckets(nc);
    const jsm = await jetstreamManager(nc);
    const names = [...Object.values(STREAMS), ...Object.values(BUCKETS).map((b) => `KV_${b}`)];
    for (const name of names) {
      const { config } = await jsm.streams.info(name);
      expect({ name, bytes: config.max_bytes > 0, size: config.max_msg_size > 0 }).toEqual({
        name,
        bytes: true,
        size: true,
      });
    }
  });

  it("add up, with the image store, to no more than the shipped server configuration's file store", () => {
    const conf = readFileSync(join(repoRoot(), "infra/nats/headroom.conf"), "utf8");
    const store = Number(/max_file_store:\s*(\d+)GB/.exec(conf)?.[1]);
    expect(store).toBe(6);
    const streams = STREAM_CONFIGS.reduce((sum, config) => sum + (config.max_bytes ?? 0), 0);
    const buckets = Object.values(BUCKET_LIMITS).reduce((sum, limit) => sum + limit.maxBytes, 0);
    // nats-server reads "6GB" as 6 * 2^30 bytes and reserves each stream's max_bytes.
    expect(streams + buckets + IMAGE_STORE_MAX_BYTES).toBeLessThanOrEqual(store * 2 ** 30);
  });

  it("refuse an oversized value in one bucket, and the others still take writes", async () => {
    const buckets = await ensureBuckets(nc);
    const limit = BUCKET_LIMITS[BUCKETS.status]?.maxValueSize ?? 0;
    const refused = await buckets.status
      .put("ns.big", new Uint8Array(limit + 1))
      .catch((error: Error) => error);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error).message)).toMatch(/message size exceeds maximum/i);
    expect(await buckets.status.get("ns.big")).toBeNull();
    await buckets.status.put("ns.small", new Uint8Array(limit));
    await buckets.vmis.put("ns.after", new Uint8Array([1]));
    expect(Array.from((await buckets.vmis.get("ns.after"))?.value ?? [])).toEqual([1]);
  });
});

describe("every service setting up at once", () => {
  it("gets the streams, buckets and image store, on the shipped configuration's file store", async () => {
    // Two services creating one bucket at the same moment: nats-server may
    // refuse the second creation for lack of room before it sees the first.
    const secrets = await mkdtemp(join(tmpdir(), "headroom-setup-race-"));
    try {
      const credentials = await ensureCredentials(join(secrets, "secrets"));
      for (let round = 0; round < 5; round++) {
        const server = await startNats({
          configFile: "infra/nats/headroom.conf",
          env: serverEnv(credentials),
        });
        const users = ["validator", "composer", "launcher"] as const;
        const connections = await Promise.all(
          users.map((user) =>
            connect({ name: `setup-${user}`, servers: server.url, user, seed: credentials[user] }),
          ),
        );
        try {
          await Promise.all(
            connections.map(async (c) => {
              await ensureStreams(c);
              await ensureBuckets(c);
              // The composer has no use for images and may not create their store.
              if (c !== connections[1]) await ensureImageObjects(c);
            }),
          );
          // Looked up as the validator, which may read each stream's info.
          const jsm = await toJetStream(connections[0] as NatsConnection).jetstreamManager();
          for (const name of [
            ...Object.values(STREAMS),
            ...Object.values(BUCKETS).map((b) => `KV_${b}`),
            `OBJ_${OBJECT_STORES.images}`,
          ]) {
            expect((await jsm.streams.info(name)).config.name).toBe(name);
          }
        } finally {
          for (const c of connections) await c.close();
          await server.stop();
        }
      }
    } finally {
      await rm(secrets, { recursive: true, force: true });
    }
  }, 60_000);
});
