import { VmiAccepted } from "@headroom/proto";
import { type NatsServer, startNats } from "@headroom/testing";
import { type JetStreamClient, type JsMsg, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  acceptedSubject,
  type ConsumerLoop,
  connect,
  consume,
  createLogger,
  decode,
  encode,
  ensureStreams,
  PermanentError,
  PIPELINE_FILTERS,
  STREAMS,
  toJetStream,
} from "../src/mod.ts";

const log = createLogger("consume-test", { level: "silent" });
let nats: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
const loops: ConsumerLoop[] = [];

beforeEach(async () => {
  nats = await startNats({ jetstream: true });
  nc = await connect({ name: "consume-test", servers: nats.url });
  js = toJetStream(nc);
  await ensureStreams(js);
});

afterEach(async () => {
  for (const loop of loops.splice(0)) await loop.stop();
  await nc.close();
  await nats.stop();
});

async function publish(name: string, generation = 1) {
  const data = encode(VmiAccepted, { namespace: "ns", name, uid: `uid-${name}`, generation });
  await js.publish(acceptedSubject("ns", name), data, { msgID: `uid-${name}:${generation}` });
}

async function pendingInStream(): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(STREAMS.pipeline)).state.messages;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(handler: (msg: JsMsg) => Promise<void>, options = {}) {
  const loop = await consume(
    js,
    STREAMS.pipeline,
    "test-composer",
    PIPELINE_FILTERS.accepted,
    handler,
    {
      log,
      retryDelayMs: () => 50,
      ...options,
    },
  );
  loops.push(loop);
  return loop;
}

describe("consume", () => {
  it("acks after the handler succeeded (work queue: the message is gone)", async () => {
    const seen: string[] = [];
    await start(async (msg) => {
      seen.push(decode(VmiAccepted, msg.data).name);
    });
    await publish("a");
    await publish("b");
    await until(() => seen.length === 2);
    expect(seen).toEqual(["a", "b"]);
    await until(async () => (await pendingInStream()) === 0);
  });

  it("naks a failure and retries until the handler succeeds", async () => {
    const attempts: number[] = [];
    await start(async (msg) => {
      attempts.push(msg.info.deliveryCount);
      if (attempts.length < 3) throw new Error("not yet");
    });
    await publish("retry");
    await until(() => attempts.length === 3);
    expect(attempts).toEqual([1, 2, 3]);
    await until(async () => (await pendingInStream()) === 0);
  });

  it("gives up after maxDeliver deliveries", async () => {
    const attempts: number[] = [];
    const givenUp: string[] = [];
    await start(
      async (msg) => {
        attempts.push(msg.info.deliveryCount);
        throw new Error("always");
      },
      { maxDeliver: 3, onGiveUp: (msg: JsMsg) => givenUp.push(msg.subject) },
    );
    await publish("doomed");
    await until(() => givenUp.length === 1);
    expect(attempts).toEqual([1, 2, 3]);
    expect(givenUp).toEqual([acceptedSubject("ns", "doomed")]);
    await until(async () => (await pendingInStream()) === 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(attempts).toHaveLength(3);
  });

  it("terminates garbage and PermanentError at once", async () => {
    const attempts: string[] = [];
    const givenUp: string[] = [];
    await start(
      async (msg) => {
        attempts.push(msg.subject);
        if (msg.subject.endsWith(".refused")) throw new PermanentError("cannot ever work");
        decode(VmiAccepted, msg.data);
      },
      { onGiveUp: (_msg: JsMsg, error: unknown) => givenUp.push((error as Error).name) },
    );
    await js.publish(
      acceptedSubject("ns", "garbage"),
      new TextEncoder().encode("not protobuf at all"),
    );
    await publish("refused");
    await until(() => givenUp.length === 2);
    expect(givenUp).toEqual(["DecodeError", "PermanentError"]);
    expect(attempts).toHaveLength(2);
    await until(async () => (await pendingInStream()) === 0);
  });

  it("stops cleanly: the message in hand finishes, the rest waits for the next consumer", async () => {
    const first: string[] = [];
    let release: () => void = () => {};
    const loop = await start(async (msg) => {
      first.push(decode(VmiAccepted, msg.data).name);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await publish("one");
    await publish("two");
    await until(() => first.length === 1);
    const stopped = loop.stop();
    release();
    await stopped;
    expect(first).toEqual(["one"]);

    const second: string[] = [];
    await start(async (msg) => {
      second.push(decode(VmiAccepted, msg.data).name);
    });
    await until(() => second.includes("two"));
    expect(second).not.toContain("one");
    await until(async () => (await pendingInStream()) === 0);
  });

  it("shares one durable between two replicas", async () => {
    const byReplica: Record<string, string[]> = { a: [], b: [] };
    const slowHandler = (replica: "a" | "b") => async (msg: JsMsg) => {
      byReplica[replica]?.push(decode(VmiAccepted, msg.data).name);
      await new Promise((resolve) => setTimeout(resolve, 100));
    };
    await start(slowHandler("a"));
    await start(slowHandler("b"));
    for (let i = 0; i < 10; i++) await publish(`vm${i}`);
    await until(() => (byReplica.a?.length ?? 0) + (byReplica.b?.length ?? 0) === 10);
    expect(byReplica.a?.length).toBeGreaterThan(0);
    expect(byReplica.b?.length).toBeGreaterThan(0);
    expect(new Set([...(byReplica.a ?? []), ...(byReplica.b ?? [])]).size).toBe(10);
  });

  it("resumes after a server restart without losing messages", async () => {
    const seen: string[] = [];
    await start(async (msg) => {
      seen.push(decode(VmiAccepted, msg.data).name);
    });
    await publish("before");
    await until(() => seen.includes("before"));
    await nats.restart();
    await until(() => !nc.isClosed() && nc.info !== undefined);
    await until(async () => {
      try {
        await publish("after");
        return true;
      } catch {
        return false;
      }
    }, 30_000);
    await until(() => seen.includes("after"), 30_000);
  });

  it("handles up to `concurrency` messages at once, and no more", async () => {
    let inHand = 0;
    let most = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: string[] = [];
    await start(
      async (msg) => {
        inHand++;
        most = Math.max(most, inHand);
        await gate;
        handled.push(decode(VmiAccepted, msg.data).name);
        inHand--;
      },
      { concurrency: 3 },
    );
    for (const name of ["a", "b", "c", "d", "e"]) await publish(name);
    // Three are held by the gate at once; the other two wait for a free place.
    await until(() => inHand === 3);
    expect(handled).toEqual([]);
    release();
    await until(() => handled.length === 5);
    expect(most).toBe(3);
    await until(async () => (await pendingInStream()) === 0);
  });

  it("says the loop is lost when its consumer is deleted, and not when it is stopped", async () => {
    const loop = await start(async () => {});
    const stopped = await start(async () => {});
    let lostOnStop = false;
    void stopped.lost.then(() => {
      lostOnStop = true;
    });
    await stopped.stop();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(STREAMS.pipeline, "test-composer");
    const why = await Promise.race([
      loop.lost,
      new Promise<Error>((_, reject) =>
        setTimeout(() => reject(new Error("the loop was not lost within 20 s")), 20_000),
      ),
    ]);
    expect(why).toBeInstanceOf(Error);
    expect(lostOnStop).toBe(false);
  }, 30_000);
});
