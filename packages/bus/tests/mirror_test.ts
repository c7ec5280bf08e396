// mirrorBucket against a real nats-server: what it holds, and the revision it
// keeps beside each value for compare-and-set writes that skip a read.
import { type NatsServer, startNats } from "@headroom/testing";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, createLogger, type MessageType, mirrorBucket } from "../src/mod.ts";

// Text as its own codec: the mirror only needs decode.
const Text = {
  decode: (bytes: Uint8Array) => new TextDecoder().decode(bytes),
} as unknown as MessageType<never, string>;
const log = createLogger("mirror-test", { level: "silent" });

let nats: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  nc = await connect({ name: "mirror-test", servers: nats.url });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("the mirror did not follow the bucket");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("mirrorBucket", () => {
  it("holds what is stored at start, and follows puts and deletes with their revisions", async () => {
    const kv = await new Kvm(nc).create("mirror-follow");
    const first = await kv.put("a", "one");
    const mirror = await mirrorBucket(kv, Text, log);
    try {
      expect(mirror.entries.get("a")).toBe("one");
      expect(mirror.latest.get("a")).toEqual({ revision: first, value: "one" });

      const second = await kv.put("a", "two");
      await until(() => mirror.entries.get("a") === "two");
      expect(mirror.latest.get("a")).toEqual({ revision: second, value: "two" });

      await kv.delete("a");
      await until(() => !mirror.entries.has("a"));
      const deleted = mirror.latest.get("a");
      expect(deleted?.value).toBeNull();
      // A compare-and-set write on the delete's revision is what the bucket takes next.
      const third = await kv.update("a", "three", deleted?.revision ?? 0);
      await until(() => mirror.entries.get("a") === "three");
      expect(mirror.latest.get("a")?.revision).toBe(third);
    } finally {
      mirror.stop();
    }
  });

  it("keeps a remembered write over an older entry the watch brings after it", async () => {
    const kv = await new Kvm(nc).create("mirror-remember");
    const mirror = await mirrorBucket(kv, Text, log);
    try {
      const older = await kv.put("b", "older");
      const newer = await kv.update("b", "newer", older);
      // Remembered at once, before the watch has brought either entry.
      mirror.remember("b", "newer", newer);
      expect(mirror.latest.get("b")).toEqual({ revision: newer, value: "newer" });
      await until(() => (mirror.latest.get("b")?.revision ?? 0) >= newer);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(mirror.entries.get("b")).toBe("newer");
      expect(mirror.latest.get("b")).toEqual({ revision: newer, value: "newer" });

      // Without a revision the value is taken, and the revision stays the one known.
      mirror.remember("b", "guess");
      expect(mirror.entries.get("b")).toBe("guess");
      expect(mirror.latest.get("b")?.revision).toBe(newer);
    } finally {
      mirror.stop();
    }
  });
});
