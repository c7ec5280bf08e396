// The whole stack for end-to-end tests: a real nats-server, the validator,
// the composer and the launcher as their own processes, libvirtd and QEMU,
// the tiny guest in a private image store, and a network attachment on a
// host bridge of its own. Tests drive it through the public API subjects,
// as the CLI does.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  API_SUBJECTS,
  connect,
  decode,
  ensureCredentials,
  type NatsConnection,
  type NatsCredentials,
  request,
  SERVICE_USERS,
  STREAMS,
  serverEnv,
  toJetStream,
  userEnv,
} from "@headroom/bus";
import { domainNameOf, type HostState, hostState } from "@headroom/host-state";
import { Connection } from "@headroom/libvirt";
import {
  ApplyReply,
  ApplyRequest,
  CapacityEvent,
  CreateNetworkReply,
  CreateNetworkRequest,
  GetReply,
  GetRequest,
  Phase,
  type VmiRecord,
} from "@headroom/proto";
import {
  ensureLibvirtd,
  type NatsServer,
  repoRoot,
  type ServiceProcess,
  startNats,
  startService,
} from "@headroom/testing";
import { parseDocument } from "@headroom/vmi";
import { afterAll, beforeAll, expect } from "vitest";

const run = promisify(execFile);

/** A VMI document as a test edits it: loosely typed on purpose, tests write bad values too. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Manifest = Record<string, any>;

export interface Stack {
  namespace: string;
  natsUrl: string;
  /** Environment of a process that logs in as the client user (the CLI's). */
  clientEnv: Record<string, string>;
  nc: NatsConnection;
  conn: Connection;
  state: HostState;
  /** The seed example with this stack's namespace and the given name, machine and request. */
  seedManifest(name: string, changes?: { machine?: string; request?: number }): Promise<Manifest>;
  apply(vmi: unknown): Promise<ApplyReply>;
  get(name: string): Promise<GetReply>;
  /** Polls until the VMI is Running or Failed (and, if given, has seen `generation`). */
  settled(name: string, generation?: number): Promise<VmiRecord>;
  liveXml(name: string): Promise<string>;
  /** Every capacity event of a VMI, replayed from the stream's start. */
  capacityEvents(name: string): Promise<CapacityEvent[]>;
}

export function useStack(): Stack {
  const namespace = `e2e-${randomBytes(3).toString("hex")}`;
  const bridge = `hr-${randomBytes(3).toString("hex")}`;
  let stateDir = "";
  let nats: NatsServer | undefined;
  let credentials: NatsCredentials | undefined;
  let nc: NatsConnection | undefined;
  let conn: Connection | undefined;
  const services: ServiceProcess[] = [];

  beforeAll(async () => {
    await ensureLibvirtd();
    stateDir = await mkdtemp(join(tmpdir(), "headroom-e2e-"));
    // QEMU runs as its own user and must reach the images and disks in here.
    await chmod(stateDir, 0o755);
    const env = { HEADROOM_STATE_DIR: stateDir };
    await run("bash", [join(repoRoot(), "infra/tiny-guest/build.sh"), "--quiet"], {
      env: { ...process.env, ...env },
    });
    // NATS as `headroom up` runs it: infra/nats/headroom.conf, each service
    // its own user; the test speaks as the client user, as the CLI does.
    credentials = await ensureCredentials(join(stateDir, "secrets"));
    nats = await startNats({
      configFile: "infra/nats/headroom.conf",
      env: serverEnv(credentials),
    });
    const serviceEnv = { ...env, HEADROOM_NATS_URL: nats.url };
    for (const [service, user] of Object.entries(SERVICE_USERS)) {
      services.push(
        startService(`services/${service}/src/main.ts`, {
          ...serviceEnv,
          ...userEnv(credentials, user),
        }),
      );
    }
    // The launcher boot-tests KVM first, which takes a while where KVM is broken.
    await Promise.all(services.map((s) => s.waitForLog(/ready/, 90_000)));
    nc = await connect({
      name: "e2e-test",
      servers: nats.url,
      user: "client",
      pass: credentials.client,
    });
    conn = await Connection.open("qemu:///system");
    const created = await request(
      nc,
      API_SUBJECTS.createNetwork,
      CreateNetworkRequest,
      { name: "headroom-bridge", bridge },
      CreateNetworkReply,
    );
    expect(created.error ?? "").toBe("");
  }, 240_000);

  afterAll(async () => {
    for (const name of (await conn?.listDomainNames()) ?? []) {
      if (!name.startsWith(`${namespace}_`)) continue;
      const domain = await conn?.findDomain(name);
      if (await domain?.isActive()) await domain?.destroy();
      await domain?.undefine();
    }
    await conn?.close();
    await nc?.close();
    await Promise.all(services.map((s) => s.stop()));
    // Every service did all its work within the permissions headroom.conf gives it.
    const refused = (nats?.logs() ?? "").split("\n").filter((line) => / Violation /.test(line));
    await nats?.stop();
    await run("ip", ["link", "del", "dev", bridge]).catch(() => {});
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
    expect(refused).toEqual([]);
  });

  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is set up in beforeAll`);
    return value;
  };

  const stack: Stack = {
    namespace,
    get natsUrl() {
      return need(nats, "nats-server").url;
    },
    get clientEnv() {
      return {
        HEADROOM_NATS_URL: need(nats, "nats-server").url,
        ...userEnv(need(credentials, "the NATS credentials"), "client"),
      };
    },
    get nc() {
      return need(nc, "the NATS connection");
    },
    get conn() {
      return need(conn, "the libvirt connection");
    },
    get state() {
      return hostState({ HEADROOM_STATE_DIR: stateDir });
    },
    async seedManifest(name, changes = {}) {
      const vmi = parseDocument(
        await readFile(join(repoRoot(), "examples/vmi-seed.yaml"), "utf8"),
      ) as Manifest;
      vmi.metadata = { name, namespace };
      if (changes.machine) vmi.spec.domain.machine = { type: changes.machine };
      if (changes.request !== undefined)
        vmi.spec.domain.resources.requests["kubevirt.io/interface"] = changes.request;
      return vmi;
    },
    apply: (vmi) =>
      request(
        stack.nc,
        API_SUBJECTS.apply,
        ApplyRequest,
        { manifestJson: JSON.stringify(vmi) },
        ApplyReply,
      ),
    get: (name) => request(stack.nc, API_SUBJECTS.get, GetRequest, { namespace, name }, GetReply),
    async settled(name, generation = 0) {
      const deadline = Date.now() + 150_000;
      for (;;) {
        const reply = await stack.get(name);
        const status = reply.vmi?.status;
        const phase = status?.phase;
        if (
          reply.vmi &&
          (phase === Phase.PHASE_RUNNING || phase === Phase.PHASE_FAILED) &&
          Number(status?.observedGeneration ?? 0) >= generation
        )
          return reply.vmi as VmiRecord;
        if (Date.now() > deadline)
          throw new Error(`vmi ${name} did not settle: ${JSON.stringify(reply.toJSON())}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    async liveXml(name) {
      const domain = await stack.conn.lookupByName(domainNameOf(namespace, name));
      return domain.getXmlDesc();
    },
    async capacityEvents(name) {
      const jsm = await toJetStream(stack.nc).jetstreamManager();
      const subject = `headroom.capacity.${namespace}.${name}`;
      const events: CapacityEvent[] = [];
      const info = await jsm.streams.info(STREAMS.capacity);
      for (let seq = info.state.first_seq; seq > 0 && seq <= info.state.last_seq; seq++) {
        const msg = await jsm.streams.getMessage(STREAMS.capacity, { seq }).catch(() => null);
        if (msg?.subject === subject) events.push(decode(CapacityEvent, msg.data));
      }
      return events;
    },
  };
  return stack;
}
