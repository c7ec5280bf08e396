// The launcher over a real nats-server and libvirtd, fed random bytes and oversized
// requests on its endpoints and garbage on the plan and deleted subjects it consumes:
// error replies, garbage terminated (not redelivered forever), and real work still done
// afterwards. Defines no domain: every garbage plan names a VMI that is not stored.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connect,
  decode,
  encode,
  ensureBuckets,
  HOST_API,
  type HostWorkKind,
  hostApiSubject,
  hostWorkDurable,
  hostWorkSubject,
  MAX_REQUEST_BYTES,
  type NatsConnection,
  request,
  SERVICE_NAMES,
  STREAMS,
  subjectToken,
  toJetStream,
} from "@headroom/bus";
import {
  CapacityEvent,
  CapacityEventType,
  ConsoleLogRequest,
  DescribeReply,
  DescribeRequest,
  DomainPlan,
  InterfaceRefused,
  VmiDeleted,
} from "@headroom/proto";
import {
  ensureLibvirtd,
  type NatsServer,
  type ServiceProcess,
  startNats,
  startService,
} from "@headroom/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

type JetStreamManager = Awaited<ReturnType<ReturnType<typeof toJetStream>["jetstreamManager"]>>;
type ConsumerInfo = Awaited<ReturnType<JetStreamManager["consumers"]["info"]>>;

const SEED = Number(process.env.HEADROOM_FUZZ_SEED ?? 20261128);
const MAIN = "services/launcher/src/main.ts";
const NODE = "fuzz-node";
const DESCRIBE = hostApiSubject(NODE, HOST_API.describe);
const CONSOLE_LOG = hostApiSubject(NODE, HOST_API.consoleLog);

/** Work for this test's launcher. */
function work(kind: HostWorkKind, namespace: string, name: string): string {
  return hostWorkSubject(NODE, kind, namespace, name);
}
let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let launcher: ServiceProcess;
let stateDir = "";

beforeAll(async () => {
  await ensureLibvirtd();
  stateDir = await mkdtemp(join(tmpdir(), "headroom-launcher-fuzz-"));
  nats = await startNats({ jetstream: true });
  nc = await connect({ name: "launcher-fuzz-test", servers: nats.url });
  await ensureBuckets(nc);
  launcher = startService(MAIN, {
    HEADROOM_NATS_URL: nats.url,
    HEADROOM_STATE_DIR: stateDir,
    // No KVM probe: garbage needs no guest.
    HEADROOM_VIRT_TYPE: "qemu",
    HEADROOM_NODE_NAME: NODE,
  });
  await launcher.waitForLog("launcher ready", 60_000);
  jsm = await toJetStream(nc).jetstreamManager();
});

afterAll(async () => {
  await launcher?.stop();
  await nc?.close();
  await nats?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

async function ping(): Promise<number> {
  const reply = await nc.request(`$SRV.PING.${SERVICE_NAMES.launcher}`, undefined, {
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

function consumerInfo(durable: string): Promise<ConsumerInfo> {
  return jsm.consumers.info(STREAMS.hostWork, durable);
}

async function settled(durable: string, timeoutMs = 30_000): Promise<ConsumerInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await consumerInfo(durable);
    if (info.num_pending === 0 && info.num_ack_pending === 0) return info;
    if (Date.now() > deadline) throw new Error(`${durable} still holds messages`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the launcher under garbage", () => {
  it("answers random bytes and oversized requests on every endpoint with an error reply", async () => {
    const subjects = [DESCRIBE, CONSOLE_LOG];
    let errorReplies = 0;
    for (const subject of subjects) {
      for (const data of [...GARBAGE, randomBytes(MAX_REQUEST_BYTES + 1)]) {
        const reply = await nc.request(subject, data, { timeout: 10_000 });
        const code = reply.headers?.get("Nats-Service-Error-Code");
        if (code) errorReplies++;
        if (data.length > MAX_REQUEST_BYTES) expect(code).toBe("413");
      }
    }
    expect(errorReplies).toBeGreaterThan(subjects.length * 4);
    expect(await ping()).toBeGreaterThan(0);
    const described = await request(
      nc,
      DESCRIBE,
      DescribeRequest,
      { namespace: "fuzz", name: "nothing" },
      DescribeReply,
    );
    expect(described.found).toBe(false);
  });

  it("terminates garbage on the plan and deleted subjects and still handles a real deletion", async () => {
    const js = toJetStream(nc);
    const plans: Uint8Array[] = [
      ...GARBAGE,
      new Uint8Array(0),
      encode(DomainPlan, {}),
      encode(DomainPlan, { namespace: "x", name: "y", uid: "u", generation: 1 }),
      encode(DomainPlan, { namespace: "../..", name: "$(reboot)", uid: "u", generation: 1 }),
      randomBytes(1024 * 1024 + 100),
    ];
    // Deletions that decode but name no valid VMI (empty or "../.." namespace) are retried
    // up to the consumer's delivery limit before they are given up, which takes seconds;
    // they are left out here to keep this test quick.
    const deletions: Uint8Array[] = [
      ...GARBAGE,
      encode(VmiDeleted, { namespace: "x", name: "y", uid: "<uuid/>", generation: 1 }),
    ];
    const eventsBefore = (await jsm.streams.info(STREAMS.capacity)).state.last_seq;
    for (const [i, body] of plans.entries())
      await js.publish(work("plan", "x", "y"), body, { msgID: `plan-garbage-${i}` });
    // Work of a kind no launcher knows.
    await js.publish(
      `headroom.host.${subjectToken(NODE)}.bogus.x.y`,
      plans[0] ?? new Uint8Array(),
      {
        msgID: "bogus-kind",
      },
    );
    // A refusal naming what no VMI can have: the exhausted event would carry it.
    const refusals: Uint8Array[] = [
      ...GARBAGE,
      encode(InterfaceRefused, {
        namespace: "x",
        name: "y",
        uid: "u",
        interfaceName: "x".repeat(600_000),
        refusalId: "r",
      }),
    ];
    for (const [i, body] of refusals.entries())
      await js.publish(work("refused", "x", "y"), body, { msgID: `refused-garbage-${i}` });
    // Deletions last: the real deletion below must come right after them in the stream.
    for (const [i, body] of deletions.entries())
      await js.publish(work("release", "x", "y"), body, { msgID: `deleted-garbage-${i}` });

    for (const durable of [hostWorkDurable(NODE)]) {
      const before = await settled(durable);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const after = await consumerInfo(durable);
      // Not coming back: no further deliveries once handled.
      expect(after.delivered.stream_seq).toBe(before.delivered.stream_seq);
      expect(after.num_redelivered).toBe(before.num_redelivered);
      expect(after.num_ack_pending).toBe(0);
    }
    // No refusal became an event (a garbage deletion may still report its VMI released).
    const eventsAfter = (await jsm.streams.info(STREAMS.capacity)).state.last_seq;
    for (let seq = eventsBefore + 1; seq <= eventsAfter; seq++) {
      const msg = await jsm.streams.getMessage(STREAMS.capacity, { seq });
      const event = decode(CapacityEvent, msg?.data ?? new Uint8Array());
      expect(event.type).not.toBe(CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED);
    }
    const logs = launcher.logs();
    expect(logs).toMatch(/message refused for good|message given up/);
    expect(logs).toContain("refusal names no interface a VMI can have (600000 characters)");
    const count = (pattern: RegExp) => logs.match(pattern)?.length ?? 0;
    console.log(
      `launcher garbage: ${count(/message refused for good/g)} refused at once, ${count(/message given up/g)} given up after retries, ${count(/will retry/g)} retries`,
    );
    expect(await ping()).toBeGreaterThan(0);

    // A real deletion of a VMI this host never ran is handled and acknowledged.
    const before = await consumerInfo(hostWorkDurable(NODE));
    await js.publish(
      work("release", "fuzz", "gone"),
      encode(VmiDeleted, {
        namespace: "fuzz",
        name: "gone",
        uid: "00000000-0000-4000-8000-00000000f023",
        generation: 1,
      }),
      { msgID: "real-deletion" },
    );
    const after = await settled(hostWorkDurable(NODE));
    expect(after.delivered.stream_seq).toBe(before.delivered.stream_seq + 1);
    expect(after.num_redelivered).toBe(before.num_redelivered);
    expect(launcher.logs()).not.toMatch(/"vmi":"fuzz\/gone"[^\n]*"level":50/);
  });

  it("answers 150 well-formed describe requests naming nasty VMIs with a refusal, never success", async () => {
    const nasty = fc.oneof(
      fc.constantFrom("", "../..", "$(reboot)", "<x/>", "a".repeat(64), "A", "x.y", "*", ">", "🦄"),
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    );
    const requests = fc.sample(fc.tuple(nasty, nasty), { seed: SEED, numRuns: 150 });
    const codes = new Map<string, number>();
    let internal = "";
    for (const [namespace, name] of requests) {
      const data = encode(DescribeRequest, { namespace, name });
      const reply = await nc.request(DESCRIBE, data, { timeout: 10_000 });
      const code = reply.headers?.get("Nats-Service-Error-Code");
      if (code) {
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === "500") internal = reply.headers?.get("Nats-Service-Error") ?? "";
      } else {
        expect(decode(DescribeReply, reply.data).found).toBe(false);
      }
    }
    console.log(
      `launcher nasty requests: error codes ${JSON.stringify(Object.fromEntries(codes))}; an internal one: ${internal}`,
    );
    // A name that cannot be a VMI's is the caller's mistake, never an internal error.
    expect(internal).toBe("");
    expect(await ping()).toBeGreaterThan(0);
  });

  it("refuses console log requests naming nasty VMIs (none is stored): never a file, never internal", async () => {
    const nasty = fc.oneof(
      fc.constantFrom("", "../..", "..", ".", "a/b", "$(reboot)", "a".repeat(64), "🦄"),
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    );
    const requests = fc.sample(fc.tuple(nasty, nasty, fc.integer({ min: -1, max: 1 << 20 })), {
      seed: SEED,
      numRuns: 100,
    });
    const codes = new Map<string, number>();
    for (const [namespace, name, offset] of requests) {
      const data = encode(ConsoleLogRequest, { namespace, name, offset, tailLines: 10 });
      const reply = await nc.request(CONSOLE_LOG, data, { timeout: 10_000 });
      const code = reply.headers?.get("Nats-Service-Error-Code") ?? "none";
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect([...codes.keys()].filter((code) => code !== "400" && code !== "404")).toEqual([]);
    expect(await ping()).toBeGreaterThan(0);
  });

  // Last: it ends the launcher.
  it("exits with 1 when its plan consumer is deleted under it, instead of idling", async () => {
    await jsm.consumers.delete(STREAMS.hostWork, hostWorkDurable(NODE));
    const code = await Promise.race([
      launcher.exited,
      new Promise<string>((resolve) =>
        setTimeout(() => resolve("still running after 30 s"), 30_000),
      ),
    ]);
    expect(code).toBe(1);
    expect(launcher.logs()).toContain("launcher stopped taking work; exiting");
  }, 45_000);
});
