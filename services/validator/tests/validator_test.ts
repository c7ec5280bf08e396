import {
  API_SUBJECTS,
  acceptedSubject,
  BUCKETS,
  connect,
  decode,
  deletedSubject,
  encode,
  type NatsConnection,
  request,
  SERVICE_NAMES,
  STREAMS,
} from "@headroom/bus";
import {
  ApplyReply,
  ApplyRequest,
  DeleteReply,
  DeleteRequest,
  ErrorReply,
  GetReply,
  GetRequest,
  ListReply,
  ListRequest,
  Outcome,
  Phase,
  VmiAccepted,
  VmiDeleted,
  VmiStatus,
} from "@headroom/proto";
import { type NatsServer, type ServiceProcess, startNats, startService } from "@headroom/testing";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Svcm } from "@nats-io/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkManifest } from "../src/mod.ts";
import { type Doc, vmiDoc } from "./fixtures.ts";

const MAIN = "services/validator/src/main.ts";
let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const validators: ServiceProcess[] = [];

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  for (let i = 0; i < 2; i++) {
    const validator = startService(MAIN, { HEADROOM_NATS_URL: nats.url });
    validators.push(validator);
  }
  await Promise.all(validators.map((v) => v.waitForLog("validator ready")));
  nc = await connect({ name: "validator-test", servers: nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await Promise.all(validators.map((v) => v.stop()));
  await nc?.close();
  await nats?.stop();
});

function named(name: string, change: (doc: Doc) => void = () => {}): Doc {
  return vmiDoc((doc) => {
    doc.metadata.name = name;
    change(doc);
  });
}

function apply(doc: Doc | string, dryRun = false) {
  const manifestJson = typeof doc === "string" ? doc : JSON.stringify(doc);
  return request(nc, API_SUBJECTS.apply, ApplyRequest, { manifestJson, dryRun }, ApplyReply);
}

async function countOn(subject: string): Promise<number> {
  const info = await jsm.streams.info(STREAMS.pipeline, { subjects_filter: subject });
  return info.state.subjects?.[subject] ?? 0;
}

async function pipelineMessages(): Promise<number> {
  return (await jsm.streams.info(STREAMS.pipeline)).state.messages;
}

async function lastOn(subject: string) {
  const stored = await jsm.streams.getMessage(STREAMS.pipeline, { last_by_subj: subject });
  if (!stored) throw new Error(`nothing on ${subject}`);
  return stored;
}

async function kvRevision(key: string): Promise<number | null> {
  const kv = await new Kvm(nc).open(BUCKETS.vmis);
  const entry = await kv.get(key);
  return entry && entry.operation === "PUT" ? entry.revision : null;
}

describe("apply", () => {
  it("creates a VMI: CREATED, stored, and VmiAccepted in the pipeline", async () => {
    const reply = await apply(named("create-me"));
    expect(reply.result).toBe("accepted");
    const accepted = reply.accepted;
    expect(accepted?.outcome).toBe(Outcome.OUTCOME_CREATED);
    expect(accepted?.namespace).toBe("team-a");
    expect(accepted?.name).toBe("create-me");
    expect(accepted?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(accepted?.generation).toBe(1);
    expect(accepted?.capacity).toMatchObject({ requested: 5, interfaces: 2, effective: 5 });

    const subject = acceptedSubject("team-a", "create-me");
    expect(await countOn(subject)).toBe(1);
    const message = await lastOn(subject);
    // Encoded and decoded: the guest the launcher holds the plan's domain to.
    expect(decode(VmiAccepted, message?.data ?? new Uint8Array()).guest).toMatchObject({
      memoryKib: 131072,
      vcpus: 1,
      machineType: "q35",
    });
    expect(message.header.get("Nats-Msg-Id")).toBe(`${accepted?.uid}:1`);
    const published = decode(VmiAccepted, message.data);
    expect(published.uid).toBe(accepted?.uid);
    expect(published.generation).toBe(1);
    expect(published.capacity?.effective).toBe(5);
    const manifest = JSON.parse(published.manifestJson);
    expect(manifest.metadata.name).toBe("create-me");
    // Stored normalized: defaults applied.
    expect(manifest.spec.domain.machine.type).toBe("q35");
    expect(await kvRevision("team-a.create-me")).not.toBeNull();
  });

  it("re-applying the same VMI is UNCHANGED and publishes nothing new", async () => {
    const first = await apply(named("same"));
    const revision = await kvRevision("team-a.same");
    const again = await apply(named("same"));
    expect(again.accepted?.outcome).toBe(Outcome.OUTCOME_UNCHANGED);
    expect(again.accepted?.uid).toBe(first.accepted?.uid);
    expect(again.accepted?.generation).toBe(1);
    expect(await countOn(acceptedSubject("team-a", "same"))).toBe(1);
    expect(await kvRevision("team-a.same")).toBe(revision);
  });

  it("rejects an invalid VMI with every error, storing and publishing nothing", async () => {
    const before = await pipelineMessages();
    const reply = await apply(
      named("bad", (doc) => {
        doc.spec.domain.resources.requests["kubevirt.io/interface"] = 33;
        doc.spec.domain.machine = { type: "pc-q35-7.2" };
      }),
    );
    expect(reply.result).toBe("rejected");
    const fields = reply.rejected?.errors?.map((e) => e.field) ?? [];
    expect(fields).toContain("spec.domain.resources.requests[kubevirt.io/interface]");
    expect(fields).toContain("spec.domain.machine.type");
    for (const error of reply.rejected?.errors ?? [])
      expect(error.message?.length).toBeGreaterThan(0);
    expect(await kvRevision("team-a.bad")).toBeNull();
    expect(await pipelineMessages()).toBe(before);
  });

  it("rejects text that is not JSON under the field manifest", async () => {
    const reply = await apply("{ this is not json");
    expect(reply.rejected?.errors).toHaveLength(1);
    expect(reply.rejected?.errors?.[0]?.field).toBe("manifest");
    expect(reply.rejected?.errors?.[0]?.message).toMatch(/not valid JSON/);
  });

  it("rejects a change of the interface request (immutable), keeping the stored VMI", async () => {
    await apply(named("fixed"));
    const revision = await kvRevision("team-a.fixed");
    const before = await pipelineMessages();
    const reply = await apply(
      named("fixed", (doc) => {
        doc.spec.domain.resources.requests["kubevirt.io/interface"] = 8;
      }),
    );
    expect(reply.result).toBe("rejected");
    expect(reply.rejected?.errors).toEqual([
      expect.objectContaining({
        field: "spec.domain.resources.requests[kubevirt.io/interface]",
        message: expect.stringMatching(/immutable: it is 5 and cannot change to 8/),
      }),
    ]);
    expect(await kvRevision("team-a.fixed")).toBe(revision);
    expect(await pipelineMessages()).toBe(before);
  });

  it("stores an allowed change as the next generation and publishes it", async () => {
    const first = await apply(named("relabel"));
    const reply = await apply(
      named("relabel", (doc) => {
        doc.metadata.labels = { app: "changed" };
      }),
    );
    expect(reply.accepted?.outcome).toBe(Outcome.OUTCOME_UPDATED);
    expect(reply.accepted?.uid).toBe(first.accepted?.uid);
    expect(reply.accepted?.generation).toBe(2);
    const subject = acceptedSubject("team-a", "relabel");
    expect(await countOn(subject)).toBe(2);
    const message = await lastOn(subject);
    expect(message.header.get("Nats-Msg-Id")).toBe(`${first.accepted?.uid}:2`);
    expect(JSON.parse(decode(VmiAccepted, message.data).manifestJson).metadata.labels).toEqual({
      app: "changed",
    });
  });

  it("dry runs store and publish nothing", async () => {
    const before = await pipelineMessages();
    const reply = await apply(named("dry"), true);
    expect(reply.accepted).toMatchObject({
      outcome: Outcome.OUTCOME_CREATED,
      dryRun: true,
      uid: "",
    });
    expect(await kvRevision("team-a.dry")).toBeNull();
    expect(await pipelineMessages()).toBe(before);
  });

  it("lets exactly one of many racing creates of the same VMI win", async () => {
    const replies = await Promise.all(Array.from({ length: 10 }, () => apply(named("race"))));
    const outcomes = replies.map((r) => r.accepted?.outcome);
    expect(outcomes.filter((o) => o === Outcome.OUTCOME_CREATED)).toHaveLength(1);
    expect(outcomes.filter((o) => o === Outcome.OUTCOME_UNCHANGED)).toHaveLength(9);
    expect(new Set(replies.map((r) => r.accepted?.uid)).size).toBe(1);
    expect(await countOn(acceptedSubject("team-a", "race"))).toBe(1);
  });

  it("lets exactly one of racing different creates of one name win; the others update", async () => {
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        apply(
          named("race-different", (doc) => {
            doc.metadata.labels = { variant: String(i) };
          }),
        ),
      ),
    );
    const outcomes = replies.map((r) => r.accepted?.outcome);
    expect(outcomes.filter((o) => o === Outcome.OUTCOME_CREATED)).toHaveLength(1);
    expect(
      outcomes.every((o) => o === Outcome.OUTCOME_CREATED || o === Outcome.OUTCOME_UPDATED),
    ).toBe(true);
    const generations = replies.map((r) => r.accepted?.generation).sort();
    expect(generations).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("a create whose publish was lost", () => {
  // As if a validator died between the KV write and the publish.
  async function storeWithoutPublishing(name: string, uid: string) {
    const checked = checkManifest(JSON.stringify(named(name)));
    if (!checked.ok) throw new Error("fixture invalid");
    const kv = await new Kvm(nc).open(BUCKETS.vmis);
    await kv.create(
      checked.key,
      encode(VmiAccepted, {
        namespace: checked.namespace,
        name,
        uid,
        generation: 1,
        manifestJson: JSON.stringify(checked.vmi),
        capacity: checked.capacity,
      }),
    );
  }

  it("is published when the VMI is applied again", async () => {
    await storeWithoutPublishing("lost", "uid-lost");
    const subject = acceptedSubject("team-a", "lost");
    expect(await countOn(subject)).toBe(0);
    const reply = await apply(named("lost"));
    expect(reply.accepted).toMatchObject({ outcome: Outcome.OUTCOME_UNCHANGED, uid: "uid-lost" });
    expect(await countOn(subject)).toBe(1);
    expect((await lastOn(subject)).header.get("Nats-Msg-Id")).toBe("uid-lost:1");
  });

  it("is not published again once a launcher reported that generation", async () => {
    await storeWithoutPublishing("seen", "uid-seen");
    const status = await new Kvm(nc).open(BUCKETS.status);
    await status.put(
      "team-a.seen",
      encode(VmiStatus, {
        phase: Phase.PHASE_RUNNING,
        uid: "uid-seen",
        observedGeneration: 1,
        node: "host-a",
      }),
    );
    const reply = await apply(named("seen"));
    expect(reply.accepted?.outcome).toBe(Outcome.OUTCOME_UNCHANGED);
    expect(await countOn(acceptedSubject("team-a", "seen"))).toBe(0);
    // get shows the status the launcher wrote.
    const got = await request(
      nc,
      API_SUBJECTS.get,
      GetRequest,
      { namespace: "team-a", name: "seen" },
      GetReply,
    );
    expect(got.vmi?.status).toMatchObject({
      phase: Phase.PHASE_RUNNING,
      node: "host-a",
      observedGeneration: 1,
    });
  });
});

describe("a VMI that failed", () => {
  it("is tried again, as a new generation, when the same VMI is applied again", async () => {
    const first = await apply(named("failed-once"));
    const uid = first.accepted?.uid as string;
    const status = await new Kvm(nc).open(BUCKETS.status);
    await status.put(
      "team-a.failed-once",
      encode(VmiStatus, {
        phase: Phase.PHASE_FAILED,
        uid,
        observedGeneration: 1,
        reason: "no image",
      }),
    );
    const again = await apply(named("failed-once"));
    expect(again.accepted).toMatchObject({ outcome: Outcome.OUTCOME_UPDATED, uid, generation: 2 });
    const subject = acceptedSubject("team-a", "failed-once");
    expect((await lastOn(subject)).header.get("Nats-Msg-Id")).toBe(`${uid}:2`);
    // Once it is no longer failed, the same apply changes nothing.
    await status.put(
      "team-a.failed-once",
      encode(VmiStatus, { phase: Phase.PHASE_RUNNING, uid, observedGeneration: 2 }),
    );
    expect((await apply(named("failed-once"))).accepted?.outcome).toBe(Outcome.OUTCOME_UNCHANGED);
  });
});

describe("get and list", () => {
  it("returns the stored VMI, and found=false for an unknown one", async () => {
    const created = await apply(named("getme"));
    const reply = await request(
      nc,
      API_SUBJECTS.get,
      GetRequest,
      { namespace: "team-a", name: "getme" },
      GetReply,
    );
    expect(reply.found).toBe(true);
    expect(reply.vmi).toMatchObject({
      namespace: "team-a",
      name: "getme",
      uid: created.accepted?.uid,
      generation: 1,
    });
    expect(JSON.parse(reply.vmi?.manifestJson ?? "{}").metadata.name).toBe("getme");
    expect(reply.vmi?.status ?? null).toBeNull();
    const missing = await request(
      nc,
      API_SUBJECTS.get,
      GetRequest,
      { namespace: "team-a", name: "nope" },
      GetReply,
    );
    expect(missing.found).toBe(false);
  });

  it("lists one namespace or all, sorted", async () => {
    await apply(named("list-b", (doc) => (doc.metadata.namespace = "list-ns")));
    await apply(named("list-a", (doc) => (doc.metadata.namespace = "list-ns")));
    const one = await request(
      nc,
      API_SUBJECTS.list,
      ListRequest,
      { namespace: "list-ns" },
      ListReply,
    );
    expect(one.vmis.map((v) => v.name)).toEqual(["list-a", "list-b"]);
    const all = await request(nc, API_SUBJECTS.list, ListRequest, {}, ListReply);
    const names = all.vmis.map((v) => `${v.namespace}/${v.name}`);
    expect(names).toContain("list-ns/list-a");
    expect(names).toContain("team-a/create-me");
    expect(names).toEqual([...names].sort());
    const none = await request(
      nc,
      API_SUBJECTS.list,
      ListRequest,
      { namespace: "empty" },
      ListReply,
    );
    expect(none.vmis).toEqual([]);
  });
});

describe("delete", () => {
  it("removes the VMI and publishes VmiDeleted; a second delete finds nothing", async () => {
    const created = await apply(named("doomed"));
    const uid = created.accepted?.uid;
    const reply = await request(
      nc,
      API_SUBJECTS.delete,
      DeleteRequest,
      { namespace: "team-a", name: "doomed" },
      DeleteReply,
    );
    expect(reply).toMatchObject({ deleted: true, uid });
    expect(await kvRevision("team-a.doomed")).toBeNull();
    const message = await lastOn(deletedSubject("team-a", "doomed"));
    expect(message.header.get("Nats-Msg-Id")).toBe(`${uid}:deleted`);
    expect(decode(VmiDeleted, message.data)).toMatchObject({
      namespace: "team-a",
      name: "doomed",
      uid,
      generation: 1,
    });

    const again = await request(
      nc,
      API_SUBJECTS.delete,
      DeleteRequest,
      { namespace: "team-a", name: "doomed" },
      DeleteReply,
    );
    expect(again.deleted).toBe(false);
    expect(again.message).toBe("vmi team-a/doomed not found");
    const get = await request(
      nc,
      API_SUBJECTS.get,
      GetRequest,
      { namespace: "team-a", name: "doomed" },
      GetReply,
    );
    expect(get.found).toBe(false);

    // The name is free again: a new VMI with a new uid.
    const recreated = await apply(named("doomed"));
    expect(recreated.accepted?.outcome).toBe(Outcome.OUTCOME_CREATED);
    expect(recreated.accepted?.uid).not.toBe(uid);
  });

  it("refuses a request without a name", async () => {
    const error = await request(
      nc,
      API_SUBJECTS.delete,
      DeleteRequest,
      { namespace: "team-a" },
      DeleteReply,
    ).catch((e) => e);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toBe("name is required");
  });
});

describe("robustness", () => {
  const subjects = [API_SUBJECTS.apply, API_SUBJECTS.delete, API_SUBJECTS.get, API_SUBJECTS.list];

  it("answers garbage on every subject with an error reply and keeps serving", async () => {
    for (const subject of subjects) {
      const msg = await nc.request(
        subject,
        new TextEncoder().encode("\u00ff garbage, not protobuf"),
      );
      expect(msg.headers?.get("Nats-Service-Error-Code"), subject).toBe("400");
      const body = decode(ErrorReply, msg.data);
      expect(body.code).toBe("BAD_REQUEST");
      expect(body.message).toMatch(/^not a valid headroom\.v1\./);
    }
    const reply = await request(nc, API_SUBJECTS.get, GetRequest, { name: "anything" }, GetReply);
    expect(reply.found).toBe(false);
  });

  it("answers a payload over 1 MiB on every subject with PAYLOAD_TOO_LARGE and keeps serving", async () => {
    const oversized = new Uint8Array(1024 * 1024 + 512 * 1024).fill(0x41);
    for (const subject of subjects) {
      const msg = await nc.request(subject, oversized, { timeout: 10_000 });
      expect(msg.headers?.get("Nats-Service-Error-Code"), subject).toBe("413");
      expect(decode(ErrorReply, msg.data).code).toBe("PAYLOAD_TOO_LARGE");
    }
    const reply = await apply(named("after-oversize"));
    expect(reply.accepted?.outcome).toBe(Outcome.OUTCOME_CREATED);
  });
});

describe("as a micro service", () => {
  it("is found by $SRV.PING and shows its endpoints in $SRV.INFO", async () => {
    const client = new Svcm(nc).client();
    const ids: string[] = [];
    for await (const ping of await client.ping(SERVICE_NAMES.validator)) ids.push(ping.id);
    expect(ids).toHaveLength(2);
    const infos = [];
    for await (const info of await client.info(SERVICE_NAMES.validator)) infos.push(info);
    expect(infos[0]?.endpoints.map((e) => e.subject).sort()).toEqual(
      [
        API_SUBJECTS.apply,
        API_SUBJECTS.delete,
        API_SUBJECTS.get,
        API_SUBJECTS.list,
        API_SUBJECTS.addInterface,
        API_SUBJECTS.removeInterface,
        API_SUBJECTS.deleteImage,
      ].sort(),
    );
    expect(infos[0]?.endpoints.every((e) => e.queue_group === "headroom")).toBe(true);
  });

  it("shares a batch of 20 creates between two instances, each handling some", async () => {
    const client = new Svcm(nc).client();
    const appliesBy = async () => {
      const counts = new Map<string, number>();
      for await (const stats of await client.stats(SERVICE_NAMES.validator)) {
        const apply = (stats.endpoints ?? []).find((e) => e.name === "apply");
        counts.set(stats.id, apply?.num_requests ?? 0);
      }
      return counts;
    };
    const before = await appliesBy();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => apply(named(`batch-${i}`))),
    );
    expect(replies.every((r) => r.accepted?.outcome === Outcome.OUTCOME_CREATED)).toBe(true);
    const after = await appliesBy();
    expect(after.size).toBe(2);
    const handled = [...after].map(([id, count]) => count - (before.get(id) ?? 0));
    expect(handled.reduce((a, b) => a + b, 0)).toBe(20);
    for (const count of handled) expect(count).toBeGreaterThan(0);
  });

  it("stops cleanly on SIGTERM while the other instance keeps answering", async () => {
    const extra = startService(MAIN, { HEADROOM_NATS_URL: nats.url });
    await extra.waitForLog("validator ready");
    expect(await extra.stop()).toBe(0);
    expect(extra.logs()).toContain("validator stopped");
    const reply = await apply(named("after-stop"));
    expect(reply.accepted?.outcome).toBe(Outcome.OUTCOME_CREATED);
  });
});
