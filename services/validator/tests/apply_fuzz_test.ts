// The validator over a real nats-server, fed generated bad manifests and raw garbage:
// every apply is answered Accepted or Rejected with field paths, every garbage request
// gets an error reply, the service keeps answering, and nothing invalid is stored.
// Seeded: HEADROOM_FUZZ_SEED replays a run.
import { randomBytes } from "node:crypto";
import {
  API_SUBJECTS,
  BUCKETS,
  connect,
  decode,
  encode,
  MAX_REQUEST_BYTES,
  type NatsConnection,
  request,
  SERVICE_NAMES,
} from "@headroom/bus";
import {
  AddInterfaceRequest,
  ApplyReply,
  ApplyRequest,
  InterfaceReply,
  ListReply,
  ListRequest,
  RemoveInterfaceRequest,
  VmiAccepted,
} from "@headroom/proto";
import { type NatsServer, type ServiceProcess, startNats, startService } from "@headroom/testing";
import { validateVmi } from "@headroom/vmi";
import { Kvm } from "@nats-io/kv";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Doc, vmiDoc } from "./fixtures.ts";

const SEED = Number(process.env.HEADROOM_FUZZ_SEED ?? 20261128);
const MAIN = "services/validator/src/main.ts";
let nats: NatsServer;
let nc: NatsConnection;
let validator: ServiceProcess;

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  validator = startService(MAIN, { HEADROOM_NATS_URL: nats.url });
  await validator.waitForLog("validator ready");
  nc = await connect({ name: "validator-fuzz-test", servers: nats.url });
});

afterAll(async () => {
  await validator?.stop();
  await nc?.close();
  await nats?.stop();
});

const NASTY: unknown[] = [
  "",
  "<name>x</name>",
  "]]>&amp;",
  "$(reboot)",
  "`id`",
  "\u0000",
  "line\nbreak",
  "🦄",
  "__proto__",
  "a".repeat(64),
  "a".repeat(5000),
  -1,
  0,
  32,
  33,
  64,
  65,
  1.5,
  1e308,
  null,
  true,
  {},
  [],
  { a: { b: { c: [1, 2, 3] } } },
];

const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A valid manifest (one of a few names) with one leaf replaced, one key added, or one key removed. */
const mutatedManifest: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom("vm1", "vm2", "vm3"),
    fc.constantFrom("replace", "insert", "delete", "none"),
    fc.nat(),
    fc.string({ maxLength: 12 }),
    nastyValue,
  )
  .map(([name, kind, pick, key, value]) => {
    const doc = vmiDoc((d) => (d.metadata.name = name));
    const slots: { parent: Doc; key: string | number }[] = [];
    const containers: Doc[] = [];
    const walk = (node: Doc) => {
      containers.push(node);
      for (const [k, child] of Object.entries(node)) {
        slots.push({ parent: node, key: Array.isArray(node) ? Number(k) : k });
        if (typeof child === "object" && child !== null) walk(child);
      }
    };
    walk(doc);
    const slot = slots[pick % slots.length] as { parent: Doc; key: string | number };
    if (kind === "replace") slot.parent[slot.key] = value;
    else if (kind === "delete") {
      if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key];
    } else if (kind === "insert") {
      const target = containers[pick % containers.length];
      if (Array.isArray(target)) target.push(value);
      else target[key] = value;
    }
    return JSON.stringify(doc);
  });

const manifests: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: mutatedManifest },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 10, max: 20_000 })
      .map((depth) => `{"apiVersion":${"[".repeat(depth)}${"]".repeat(depth)}}`),
  },
);

function isJsonObject(text: string): boolean {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

async function ping(): Promise<number> {
  const replies = await nc.request(`$SRV.PING.${SERVICE_NAMES.validator}`, undefined, {
    timeout: 5000,
  });
  return replies.data.length;
}

describe("validator under generated bad manifests", () => {
  it("answers 500 generated manifests with Accepted or Rejected naming fields, and stores only valid VMIs", async () => {
    const generated = fc.sample(manifests, { seed: SEED, numRuns: 500 });
    const outcomes = { accepted: 0, rejected: 0 };
    for (let start = 0; start < generated.length; start += 10) {
      const batch = generated.slice(start, start + 10);
      const replies = await Promise.all(
        batch.map((manifestJson) =>
          request(nc, API_SUBJECTS.apply, ApplyRequest, { manifestJson }, ApplyReply),
        ),
      );
      for (const [i, reply] of replies.entries()) {
        if (reply.accepted) {
          outcomes.accepted++;
          // Accepted only what validates on its own.
          expect(validateVmi(JSON.parse(batch[i] as string)).valid).toBe(true);
        } else {
          outcomes.rejected++;
          const errors = reply.rejected?.errors ?? [];
          expect(errors.length).toBeGreaterThan(0);
          for (const error of errors) {
            expect(error.message?.length ?? 0).toBeGreaterThan(0);
            expect(typeof error.field).toBe("string");
          }
          // A JSON object is refused naming a field inside it ("" is the document as a whole).
          if (isJsonObject(batch[i] as string))
            expect(errors.some((error) => error.field !== "")).toBe(true);
        }
      }
    }
    console.log(`validator fuzz: ${outcomes.accepted} accepted, ${outcomes.rejected} rejected`);
    expect(outcomes.accepted + outcomes.rejected).toBe(500);
    expect(outcomes.rejected).toBeGreaterThan(400);
    expect(await ping()).toBeGreaterThan(0);

    const kv = await new Kvm(nc).open(BUCKETS.vmis);
    let stored = 0;
    for await (const key of await kv.keys()) {
      const entry = await kv.get(key);
      if (entry === null || entry.operation !== "PUT") continue;
      const record = decode(VmiAccepted, entry.value);
      const result = validateVmi(JSON.parse(record.manifestJson));
      expect(result.errors).toEqual([]);
      stored++;
    }
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThanOrEqual(outcomes.accepted);
  });

  it("answers random bytes and oversized requests on every endpoint with an error reply, and keeps serving", async () => {
    const subjects = [
      API_SUBJECTS.apply,
      API_SUBJECTS.delete,
      API_SUBJECTS.get,
      API_SUBJECTS.list,
      API_SUBJECTS.addInterface,
      API_SUBJECTS.removeInterface,
    ];
    const garbage = [
      ...fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { seed: SEED, numRuns: 20 }),
      // Truncated varint, wrong wire types, a field length past the end.
      Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      Uint8Array.from([0x0f]),
      Uint8Array.from([0x0a, 0x05, 0x41]),
      randomBytes(MAX_REQUEST_BYTES + 1),
    ];
    let errorReplies = 0;
    let decodedAnyway = 0;
    for (const subject of subjects) {
      for (const data of garbage) {
        const reply = await nc.request(subject, data, { timeout: 5000 });
        const code = reply.headers?.get("Nats-Service-Error-Code");
        if (code) {
          errorReplies++;
          expect(reply.headers?.get("Nats-Service-Error")?.length ?? 0).toBeGreaterThan(0);
          if (data.length > MAX_REQUEST_BYTES) expect(code).toBe("413");
        } else {
          // Some random bytes happen to be a valid protobuf message; then the answer is a real reply.
          decodedAnyway++;
        }
      }
    }
    console.log(
      `validator garbage: ${errorReplies} error replies, ${decodedAnyway} decoded anyway`,
    );
    expect(errorReplies).toBeGreaterThan(subjects.length * 4);
    expect(await ping()).toBeGreaterThan(0);
    const list = await request(nc, API_SUBJECTS.list, ListRequest, {}, ListReply);
    expect(list.vmis.length).toBeGreaterThanOrEqual(0);
  });

  it("answers 150 hot-plug requests naming nasty VMIs with a refusal, never success", async () => {
    const nasty = fc.oneof(
      fc.constantFrom("", "../..", "$(reboot)", "<x/>", "a".repeat(64), "A", "x.y", "*", ">", "🦄"),
      fc.string({ unit: "grapheme", maxLength: 20 }),
      fc.stringMatching(/^[a-z0-9-]{1,10}$/),
    );
    const requests = fc.sample(fc.tuple(fc.boolean(), nasty, nasty, nasty, nasty), {
      seed: SEED,
      numRuns: 150,
    });
    const codes = new Map<string, number>();
    let internal = "";
    for (const [add, namespace, name, interfaceName, networkName] of requests) {
      const [subject, data] = add
        ? [
            API_SUBJECTS.addInterface,
            encode(AddInterfaceRequest, { namespace, name, interfaceName, networkName }),
          ]
        : [
            API_SUBJECTS.removeInterface,
            encode(RemoveInterfaceRequest, { namespace, name, interfaceName }),
          ];
      const reply = await nc.request(subject, data, { timeout: 10_000 });
      const code = reply.headers?.get("Nats-Service-Error-Code");
      if (code) {
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === "500") internal = reply.headers?.get("Nats-Service-Error") ?? "";
      } else {
        expect(decode(InterfaceReply, reply.data).ok).toBe(false);
      }
    }
    console.log(
      `validator nasty hot-plug requests: error codes ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    // A name that cannot be a VMI's is the caller's mistake, never an internal error.
    expect(internal).toBe("");
    expect(await ping()).toBeGreaterThan(0);
  });

  it("rejects a request nested 50,000 lists deep, naming the field", async () => {
    // Built as text: JSON.stringify itself cannot go that deep.
    const depth = 50_000;
    const manifestJson = JSON.stringify(
      vmiDoc((d) => (d.spec.domain.resources.requests["kubevirt.io/interface"] = "DEEP")),
    ).replace('"DEEP"', `${"[".repeat(depth)}5${"]".repeat(depth)}`);
    const reply = await request(nc, API_SUBJECTS.apply, ApplyRequest, { manifestJson }, ApplyReply);
    expect(reply.rejected?.errors?.map((error) => error.field)).toEqual([
      "spec.domain.resources.requests[kubevirt.io/interface]",
    ]);
    expect(await ping()).toBeGreaterThan(0);
  });

  it("answers a manifest of long unknown keys near the size limit with a reply that fits", async () => {
    const doc = vmiDoc();
    for (let i = 0; i < 50; i++) doc.spec[`${i % 2 ? "k" : "-"}${i}${"k".repeat(20_950)}`] = 1;
    const manifestJson = JSON.stringify(doc);
    expect(manifestJson.length).toBeLessThan(MAX_REQUEST_BYTES);
    const reply = await request(nc, API_SUBJECTS.apply, ApplyRequest, { manifestJson }, ApplyReply);
    const errors = reply.rejected?.errors ?? [];
    expect(errors.length).toBe(50);
    const replyBytes = ApplyReply.encode(reply).finish().length;
    console.log(
      `validator: a ${manifestJson.length}-byte manifest got a ${replyBytes}-byte rejection`,
    );
    expect(await ping()).toBeGreaterThan(0);
  });
});
