// infra/nats/headroom.conf, as a real nats-server enforces it: every user can
// do its own work, and each forbidden action is refused and changes nothing.
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Phase, VmiAccepted, VmiStatus } from "@headroom/proto";
import { type NatsServer, startNats } from "@headroom/testing";
import { AckPolicy, jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect as natsConnect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptedSubject,
  answersPing,
  BUCKETS,
  capacitySubject,
  connect,
  createLogger,
  DURABLES,
  ensureBuckets,
  ensureCredentials,
  ensureStreams,
  generateCredentials,
  hostWorkDurable,
  hostWorkFilter,
  hostWorkSubject,
  type NatsConnection,
  type NatsCredentials,
  type NatsUser,
  NotAuthorizedError,
  PIPELINE_FILTERS,
  publicKeyOf,
  readClientCredentials,
  readCredentials,
  refusedSubject,
  SERVICE_NAMES,
  STREAMS,
  serverEnv,
  startMicroService,
  storeKey,
} from "../src/mod.ts";

let secrets = "";
let credentials: NatsCredentials;
let nats: NatsServer;
const connections = new Map<NatsUser, NatsConnection>();

function as(user: NatsUser): NatsConnection {
  const nc = connections.get(user);
  if (!nc) throw new Error(`no connection for ${user}`);
  return nc;
}

/** The number of messages in a stream, read as the launcher (allowed to look at every stream). */
async function messagesIn(stream: string): Promise<number> {
  const jsm = await jetstream(as("launcher")).jetstreamManager();
  return (await jsm.streams.info(stream)).state.messages;
}

function isPermissionViolation(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (/permissions? violation/i.test(e.message) || e.name === "PermissionViolationError") {
      return true;
    }
  }
  return false;
}

/** Waits (5 s at most) for the server's permission error about `subject` on this connection. */
async function violationOn(nc: NatsConnection, subject: string): Promise<string> {
  const found = (async () => {
    for await (const status of nc.status()) {
      if (status.type !== "error") continue;
      const message = String((status.error as Error).message);
      if (isPermissionViolation(status.error) && message.includes(subject)) return message;
    }
    return "connection closed";
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no permission error about ${subject} within 5 s`), 5000);
  });
  try {
    return await Promise.race([found, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A plain publish: the server refuses it with a permission error naming the subject. */
async function expectPublishRefused(user: NatsUser, subject: string): Promise<void> {
  const nc = as(user);
  const refused = violationOn(nc, subject);
  nc.publish(subject, new Uint8Array([1, 2, 3]));
  await expect(refused).resolves.toMatch(/publish/i);
}

/** A request-like action (JetStream publish, KV write, JetStream API): rejected for permissions. */
async function expectRejected(action: Promise<unknown>): Promise<void> {
  const error = await action.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the action went through").toBeDefined();
  expect(isPermissionViolation(error), String(error)).toBe(true);
}

beforeAll(async () => {
  secrets = await mkdtemp(join(tmpdir(), "headroom-secrets-"));
  credentials = await ensureCredentials(join(secrets, "secrets"));
  nats = await startNats({ configFile: "infra/nats/headroom.conf", env: serverEnv(credentials) });
  for (const user of ["validator", "composer", "launcher", "client"] as const) {
    connections.set(
      user,
      await connect({
        name: `access-${user}`,
        servers: nats.url,
        user,
        seed: credentials[user],
      }),
    );
  }
  // Each service sets up the streams and buckets at start, whichever comes first.
  await ensureStreams(as("validator"));
  await ensureBuckets(as("composer"));
  await ensureStreams(as("launcher"));
  await ensureBuckets(as("launcher"));
}, 60_000);

afterAll(async () => {
  for (const nc of connections.values()) await nc.close().catch(() => {});
  await nats?.stop();
  if (secrets) await rm(secrets, { recursive: true, force: true });
});

describe("credentials", () => {
  it("are made once, private, and read back the same", async () => {
    const dir = join(secrets, "secrets");
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, "nats.env"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "client.env"))).mode & 0o777).toBe(0o600);
    expect(await readCredentials(dir)).toEqual(credentials);
    expect(await ensureCredentials(dir)).toEqual(credentials);
    expect(await readClientCredentials(dir)).toEqual({
      user: "client",
      seed: credentials.client,
      nkey: publicKeyOf(credentials.client),
    });
    expect(new Set(Object.values(credentials)).size).toBe(4);
    // The server is given public keys only: no seed is in its environment.
    const server = Object.values(serverEnv(credentials));
    expect(server.every((key) => /^U[A-Z2-7]{55}$/.test(key))).toBe(true);
    for (const seed of Object.values(credentials)) {
      expect(seed).toMatch(/^SU[A-Z2-7]{56}$/);
      expect(server).not.toContain(seed);
    }
    expect(await readCredentials(join(secrets, "nowhere"))).toBeUndefined();
  });
});

describe("logging in", () => {
  it("signs with Node's ed25519 when the public key is given, and a key that is not the seed's is refused", async () => {
    const fast = await connect({
      name: "native-login",
      servers: nats.url,
      user: "client",
      seed: credentials.client,
      nkey: publicKeyOf(credentials.client),
      env: {},
    });
    await fast.close();
    const mismatched = connect({
      name: "mismatched-login",
      servers: nats.url,
      user: "client",
      seed: credentials.client,
      nkey: publicKeyOf(credentials.validator),
      env: {},
    });
    await expect(mismatched).rejects.toThrow(NotAuthorizedError);
  });

  it("refuses a key the server does not know, a password, and no login at all", async () => {
    const attempt = (user?: string, seed?: string) =>
      connect({ name: "intruder", servers: nats.url, user, seed, env: {} });
    const stranger = generateCredentials().client;
    await expect(attempt("client", stranger)).rejects.toThrow(NotAuthorizedError);
    await expect(attempt("client", stranger)).rejects.toThrow(/refused user "client"/);
    await expect(attempt()).rejects.toThrow(/HEADROOM_NATS_USER and HEADROOM_NATS_SEED/);
    const password = natsConnect({ servers: nats.url, user: "client", pass: credentials.client });
    await expect(password).rejects.toThrow(/authorization/i);
  });
});

describe("a client", () => {
  it("calls the public API subjects and gets the service's reply", async () => {
    const served = as("validator").subscribe("headroom.api.v1.vmi.get", {
      queue: "headroom",
      max: 1,
      callback: (_error, msg) => {
        msg.respond(new TextEncoder().encode("pong"));
      },
    });
    await as("validator").flush();
    const reply = await as("client").request("headroom.api.v1.vmi.get", new Uint8Array(), {
      timeout: 5000,
    });
    expect(new TextDecoder().decode(reply.data)).toBe("pong");
    await served.closed;
  });

  it("reads statuses and capacity events", async () => {
    const key = storeKey("access", "readable");
    const status = (await ensureBuckets(as("launcher"))).status;
    await status.put(key, VmiStatus.encode({ uid: "u1", domainName: "access_readable" }).finish());
    await jetstream(as("launcher")).publish(capacitySubject("access", "readable"), "event");

    const kv = await new Kvm(as("client")).open(BUCKETS.status);
    const entry = await kv.get(key);
    expect(VmiStatus.decode(entry?.value ?? new Uint8Array()).uid).toBe("u1");

    const consumer = await jetstream(as("client")).consumers.get(STREAMS.capacity, {
      filter_subjects: capacitySubject("access", "readable"),
    });
    const msg = await consumer.next({ expires: 5000 });
    expect(msg?.string()).toBe("event");
  });

  it("cannot publish into the pipeline", async () => {
    const before = await messagesIn(STREAMS.pipeline);
    await expectRejected(
      jetstream(as("client")).publish(
        acceptedSubject("access", "forged"),
        VmiAccepted.encode({ uid: "forged", namespace: "access", name: "forged" }).finish(),
      ),
    );
    await expectRejected(
      jetstream(as("client")).publish(hostWorkSubject("node-a", "plan", "access", "forged"), "x"),
    );
    await expectPublishRefused("client", "headroom.pipeline.deleted.access.forged");
    expect(await messagesIn(STREAMS.pipeline)).toBe(before);
  });

  it("cannot forge capacity events", async () => {
    const before = await messagesIn(STREAMS.capacity);
    await expectRejected(
      jetstream(as("client")).publish(capacitySubject("access", "forged"), "reserved"),
    );
    await expectPublishRefused("client", capacitySubject("access", "forged"));
    expect(await messagesIn(STREAMS.capacity)).toBe(before);
  });

  it("cannot write, delete or purge in any KV bucket", async () => {
    const before = await messagesIn(`KV_${BUCKETS.vmis}`);
    const key = storeKey("access", "forged");
    // Writes are publishes on $KV.<bucket>.<key>, whichever way they are made.
    await expectPublishRefused("client", `$KV.${BUCKETS.vmis}.${key}`);
    await expectRejected(jetstream(as("client")).publish(`$KV.${BUCKETS.status}.${key}`, "x"));
    await expectRejected(jetstream(as("client")).publish(`$KV.${BUCKETS.networks}.${key}`, "x"));
    const jsm = await jetstream(as("client")).jetstreamManager();
    await expectRejected(jsm.streams.purge(`KV_${BUCKETS.vmis}`));
    await expectRejected(jsm.streams.deleteMessage(`KV_${BUCKETS.status}`, 1));
    expect(await messagesIn(`KV_${BUCKETS.vmis}`)).toBe(before);
  });

  it("cannot administer streams or take the services' work", async () => {
    const jsm = await jetstream(as("client")).jetstreamManager();
    await expectRejected(jsm.streams.delete(STREAMS.pipeline));
    await expectRejected(jsm.streams.purge(STREAMS.capacity));
    await expectRejected(jsm.streams.update(STREAMS.capacity, { max_msgs_per_subject: 1 }));
    await expectRejected(
      jsm.streams.add({ name: "STEAL", subjects: ["headroom.api.v1.vmi.apply"] }),
    );
    await expectRejected(
      jsm.consumers.add(STREAMS.hostWork, {
        durable_name: hostWorkDurable("node-a"),
        filter_subject: hostWorkFilter("node-a"),
      }),
    );
    await expectRejected(jsm.consumers.info(STREAMS.pipeline, DURABLES.composerAccepted));
    await expectPublishRefused(
      "client",
      `$JS.ACK.${STREAMS.hostWork}.${hostWorkDurable("node-a")}.1.1.1.1.0`,
    );
  });

  it("cannot serve an API subject or listen to the pipeline or another user's replies", async () => {
    for (const subject of [
      "headroom.api.v1.vmi.apply",
      "headroom.pipeline.>",
      "headroom.capacity.>",
      "_INBOX_launcher.>",
      "$KV.headroom-vmis.>",
      ">",
    ]) {
      const sub = as("client").subscribe(subject);
      // The server's refusal closes the subscription with the error.
      const closed = sub.closed.then(
        (result: unknown) => (result instanceof Error ? result.message : "closed without error"),
        (error: Error) => error.message,
      );
      await expect(closed).resolves.toMatch(/permissions? violation/i);
    }
  });
});

describe("each service", () => {
  it("the validator writes VMIs, accepted hand-offs and refusals, not plans, statuses or events", async () => {
    const js = jetstream(as("validator"));
    const ack = await js.publish(acceptedSubject("access", "ok"), "accepted");
    expect(ack.stream).toBe(STREAMS.pipeline);
    const refused = await js.publish(refusedSubject("access", "ok"), "refused");
    expect(refused.stream).toBe(STREAMS.pipeline);
    const buckets = await ensureBuckets(as("validator"));
    await buckets.vmis.put(storeKey("access", "ok"), new Uint8Array([1]));
    await expectRejected(js.publish(hostWorkSubject("node-a", "plan", "access", "ok"), "plan"));
    await expectRejected(js.publish(capacitySubject("access", "ok"), "event"));
    await expectRejected(buckets.status.put(storeKey("access", "ok"), new Uint8Array([1])));
    await expectRejected(buckets.networks.put("bridge", new Uint8Array([1])));
    await expectRejected(buckets.placements.put(storeKey("access", "ok"), new Uint8Array([1])));
  });

  it("the composer writes placements, hosts' work and networks, and NodeLost events, not statuses, VMIs or accepted hand-offs", async () => {
    const js = jetstream(as("composer"));
    const ack = await js.publish(hostWorkSubject("node-a", "plan", "access", "ok"), "plan");
    expect(ack.stream).toBe(STREAMS.hostWork);
    const buckets = await ensureBuckets(as("composer"));
    await buckets.networks.put("bridge", new Uint8Array([1]));
    await buckets.placements.put(storeKey("access", "ok"), new Uint8Array([1]));
    // Its one event: a VMI's host was lost.
    await js.publish(capacitySubject("access", "ok"), "event");
    await expectRejected(buckets.status.put(storeKey("access", "ok"), new Uint8Array([1])));
    await expectRejected(js.publish(acceptedSubject("access", "ok"), "accepted"));
    await expectRejected(buckets.vmis.put(storeKey("access", "ok"), new Uint8Array([1])));
    await expectRejected(js.publish(refusedSubject("access", "ok"), "refused"));
  });

  it("the composer can neither write nor read a status: the launcher is the status bucket's one writer", async () => {
    const key = storeKey("access", "composed");
    const owned = (await ensureBuckets(as("launcher"))).status;
    const revision = await owned.put(
      key,
      VmiStatus.encode({ uid: "u1", phase: Phase.PHASE_RUNNING }).finish(),
    );
    const forged = VmiStatus.encode({
      uid: "u1",
      phase: Phase.PHASE_FAILED,
      reason: "forged",
    }).finish();
    const status = (await ensureBuckets(as("composer"))).status;
    await expectRejected(status.put(key, forged));
    await expectRejected(status.update(key, forged, revision));
    await expectRejected(status.create(storeKey("access", "composed-new"), forged));
    await expectRejected(status.delete(key));
    await expectRejected(status.purge(key));
    await expectRejected(status.get(key));
    await expectRejected(jetstream(as("composer")).publish(`$KV.${BUCKETS.status}.${key}`, forged));
    await expectPublishRefused("composer", `$KV.${BUCKETS.status}.${key}`);
    const entry = await owned.get(key);
    expect(entry?.revision).toBe(revision);
    expect(VmiStatus.decode(entry?.value ?? new Uint8Array()).phase).toBe(Phase.PHASE_RUNNING);
    expect(await owned.get(storeKey("access", "composed-new"))).toBeNull();
  });

  it("the composer lists the VMIs' keys, to refuse deleting a network in use", async () => {
    await ensureBuckets(as("validator")).then((b) => b.vmis.put(storeKey("access", "lists"), "x"));
    const vmis = await new Kvm(as("composer")).open(BUCKETS.vmis);
    const keys: string[] = [];
    for await (const key of await vmis.keys()) keys.push(key);
    expect(keys).toContain(storeKey("access", "lists"));
  });

  it("the composer takes refused hot-plugs from the pipeline, to route them to the VMI's host", async () => {
    const jsm = await jetstream(as("composer")).jetstreamManager();
    await jsm.consumers.add(STREAMS.pipeline, {
      durable_name: DURABLES.composerRefused,
      filter_subject: PIPELINE_FILTERS.refused,
      ack_policy: AckPolicy.Explicit,
    });
    const consumer = await jetstream(as("composer")).consumers.get(
      STREAMS.pipeline,
      DURABLES.composerRefused,
    );
    const msg = await consumer.next({ expires: 5000 });
    expect(msg?.string()).toBe("refused");
    msg?.ack();
  });

  it("the launcher takes its host's work, and nothing from the pipeline", async () => {
    const jsm = await jetstream(as("launcher")).jetstreamManager();
    await jsm.consumers.add(STREAMS.hostWork, {
      durable_name: hostWorkDurable("node-a"),
      filter_subject: hostWorkFilter("node-a"),
      ack_policy: AckPolicy.Explicit,
    });
    const consumer = await jetstream(as("launcher")).consumers.get(
      STREAMS.hostWork,
      hostWorkDurable("node-a"),
    );
    const msg = await consumer.next({ expires: 5000 });
    expect(msg?.string()).toBe("plan");
    msg?.ack();
    await expectRejected(
      jsm.consumers.add(STREAMS.pipeline, {
        durable_name: DURABLES.composerAccepted,
        filter_subject: PIPELINE_FILTERS.accepted,
      }),
    );
    await expectRejected(jsm.consumers.info(STREAMS.pipeline, DURABLES.composerAccepted));
  });

  it("the launcher writes statuses and events, not VMIs, networks or pipeline hand-offs", async () => {
    const js = jetstream(as("launcher"));
    await js.publish(capacitySubject("access", "ok"), "event");
    const buckets = await ensureBuckets(as("launcher"));
    await buckets.status.put(storeKey("access", "ok"), new Uint8Array([1]));
    await expectRejected(js.publish(acceptedSubject("access", "ok"), "accepted"));
    await expectRejected(js.publish(hostWorkSubject("node-a", "plan", "access", "ok"), "plan"));
    await expectRejected(js.publish(refusedSubject("access", "ok"), "refused"));
    await expectRejected(buckets.vmis.put(storeKey("access", "ok"), new Uint8Array([1])));
    await expectRejected(buckets.networks.put("bridge", new Uint8Array([1])));
    await expectRejected(buckets.placements.put(storeKey("access", "ok"), new Uint8Array([1])));
  });

  it("consumes only its own stage", async () => {
    const jsm = await jetstream(as("composer")).jetstreamManager();
    await expectRejected(
      jsm.consumers.add(STREAMS.hostWork, {
        durable_name: hostWorkDurable("node-b"),
        filter_subject: hostWorkFilter("node-b"),
      }),
    );
    await expectRejected(jsm.streams.delete(STREAMS.capacity));
  });

  it("no service may change a stream or bucket: they create what is missing and use the rest as it is", async () => {
    for (const user of ["validator", "composer", "launcher"] as const) {
      const jsm = await jetstream(as(user)).jetstreamManager();
      for (const stream of [STREAMS.pipeline, STREAMS.capacity, `KV_${BUCKETS.vmis}`]) {
        await expectRejected(jsm.streams.update(stream, { max_msgs_per_subject: 1 }));
      }
    }
    // Setting up again, as a restarted service does, changes nothing and needs no update.
    expect(await ensureStreams(as("launcher"))).toEqual([]);
  });

  it("each pings its own replicas, its container's healthcheck, and no other service", async () => {
    const log = createLogger("access-test", { level: "silent" });
    for (const [user, name] of [
      ["validator", SERVICE_NAMES.validator],
      ["composer", SERVICE_NAMES.composer],
      ["launcher", SERVICE_NAMES.launcher],
    ] as const) {
      const micro = await startMicroService(as(user), {
        name,
        version: "0.0.0",
        endpoints: [],
        log,
      });
      try {
        expect(await answersPing(as(user), name)).toBe(true);
      } finally {
        await micro.stop();
      }
    }
    await expectPublishRefused("validator", `$SRV.PING.${SERVICE_NAMES.launcher}`);
    await expectPublishRefused("launcher", `$SRV.PING.${SERVICE_NAMES.composer}`);
  });
});
