// A whole headroom stack whose processes can be killed and restarted: a real
// nats-server (JetStream on disk), the validator, the composer and the launcher
// as child processes, libvirtd and QEMU with the tiny guest in a private state
// dir. runCrashBatch creates VMIs through the validator API while killing
// (SIGKILL) services at seeded random moments, then checks that every accepted
// VMI ends Running exactly once. Used by the launcher's crash test and by
// bench/crash/main.ts.
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
  type NatsConnection,
  request,
  STREAMS,
  toJetStream,
} from "@headroom/bus";
import { domainNameOf } from "@headroom/host-state";
import { Connection } from "@headroom/libvirt";
import {
  ApplyReply,
  ApplyRequest,
  CapacityEvent,
  CapacityEventType,
  CreateNetworkReply,
  CreateNetworkRequest,
  DescribeReply,
  DescribeRequest,
  GetReply,
  GetRequest,
  Phase,
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

const run = promisify(execFile);

export const SERVICES = ["validator", "domain-composer", "launcher"] as const;
export type ServiceName = (typeof SERVICES)[number];

// biome-ignore lint/suspicious/noExplicitAny: a VMI document as a test edits it
export type Manifest = Record<string, any>;

export interface CrashStack {
  namespace: string;
  nats: NatsServer;
  nc: NatsConnection;
  /** This test's own libvirt connection (see reopenLibvirt). */
  readonly conn: Connection;
  /** Opens a new libvirt connection, after libvirtd was restarted. */
  reopenLibvirt(): Promise<void>;
  service(name: ServiceName): ServiceProcess;
  /** SIGKILLs a service and waits until it is gone. */
  kill(name: ServiceName): Promise<void>;
  /** Starts a service again (after kill) and waits until it is ready. */
  start(name: ServiceName): Promise<void>;
  seedManifest(name: string, request: number): Promise<Manifest>;
  apply(vmi: unknown, timeoutMs?: number): Promise<ApplyReply>;
  get(name: string): Promise<GetReply>;
  describe(name: string): Promise<DescribeReply>;
  /** Domain names of this stack's namespace. */
  domains(): Promise<string[]>;
  /** Capacity events by VMI name, replayed from the stream's start. */
  capacityEvents(): Promise<Map<string, CapacityEvent[]>>;
  /** Removes every domain of the namespace, the services, nats, the bridge and the state dir. */
  stop(): Promise<void>;
}

export interface CrashStackOptions {
  /** Extra environment for the services (e.g. HEADROOM_DETACH_TIMEOUT_MS). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

export async function startCrashStack(options: CrashStackOptions = {}): Promise<CrashStack> {
  const namespace = `crash-${randomBytes(3).toString("hex")}`;
  const bridge = `hr-${randomBytes(3).toString("hex")}`;
  const services = new Map<ServiceName, ServiceProcess>();
  let stateDir = "";
  let nats: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  let conn: Connection | undefined;

  const removeDomains = async () => {
    if (!conn) return;
    for (const name of await conn.listDomainNames()) {
      if (!name.startsWith(`${namespace}_`)) continue;
      const domain = await conn.findDomain(name);
      if (await domain?.isActive()) await domain?.destroy().catch(() => {});
      await domain?.undefine().catch(() => {});
    }
  };

  const stop = async () => {
    await Promise.all([...services.values()].map((s) => s.stop().catch(() => {})));
    // Domains last: a launcher could still have been defining one.
    await removeDomains().catch(() => {});
    await conn?.close().catch(() => {});
    await nc?.close().catch(() => {});
    await nats?.stop().catch(() => {});
    await run("ip", ["link", "del", "dev", bridge]).catch(() => {});
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  };

  try {
    await ensureLibvirtd();
    stateDir = await mkdtemp(join(tmpdir(), "headroom-crash-"));
    // QEMU runs as its own user and must reach the images and disks in here.
    await chmod(stateDir, 0o755);
    const env: Record<string, string> = { ...options.env, HEADROOM_STATE_DIR: stateDir };
    await run("bash", [join(repoRoot(), "infra/tiny-guest/build.sh"), "--quiet"], {
      env: { ...process.env, ...env },
    });
    nats = await startNats();
    env.HEADROOM_NATS_URL = nats.url;
    const launch = (name: ServiceName) => {
      const process = startService(`services/${name}/src/main.ts`, env);
      services.set(name, process);
      return process;
    };
    await Promise.all(SERVICES.map((name) => launch(name).waitForLog(/ready/, 120_000)));
    // Restarts skip the KVM boot test: the first launcher already chose.
    const chosen = /"virtType":"(kvm|qemu)"/.exec(services.get("launcher")?.logs() ?? "");
    if (chosen?.[1]) env.HEADROOM_VIRT_TYPE = chosen[1];
    nc = await connect({ name: "crash-test", servers: nats.url });
    conn = await Connection.open("qemu:///system");
    const created = await request(
      nc,
      API_SUBJECTS.createNetwork,
      CreateNetworkRequest,
      { name: "headroom-bridge", bridge },
      CreateNetworkReply,
    );
    if (created.error) throw new Error(`network not created: ${created.error}`);
    const seed = await readFile(join(repoRoot(), "examples/vmi-seed.yaml"), "utf8");
    const openNc = nc;
    const openNats = nats;
    const libvirt = () => {
      if (!conn) throw new Error("no libvirt connection");
      return conn;
    };

    const stack: CrashStack = {
      namespace,
      nats: openNats,
      nc: openNc,
      get conn() {
        return libvirt();
      },
      async reopenLibvirt() {
        await conn?.close().catch(() => {});
        conn = await Connection.open("qemu:///system");
      },
      service(name) {
        const found = services.get(name);
        if (!found) throw new Error(`${name} was never started`);
        return found;
      },
      async kill(name) {
        await stack.service(name).kill();
      },
      async start(name) {
        await launch(name).waitForLog(/ready/, 120_000);
      },
      async seedManifest(name, requested) {
        const vmi = parseDocument(seed) as Manifest;
        vmi.metadata = { name, namespace };
        vmi.spec.domain.resources.requests["kubevirt.io/interface"] = requested;
        return vmi;
      },
      apply: (vmi, timeoutMs = 10_000) =>
        request(
          openNc,
          API_SUBJECTS.apply,
          ApplyRequest,
          { manifestJson: JSON.stringify(vmi) },
          ApplyReply,
          { timeoutMs },
        ),
      get: (name) => request(openNc, API_SUBJECTS.get, GetRequest, { namespace, name }, GetReply),
      describe: (name) =>
        request(openNc, API_SUBJECTS.describe, DescribeRequest, { namespace, name }, DescribeReply),
      async domains() {
        return (await libvirt().listDomainNames()).filter((n) => n.startsWith(`${namespace}_`));
      },
      async capacityEvents() {
        const jsm = await toJetStream(openNc).jetstreamManager();
        const prefix = `headroom.capacity.${namespace}.`;
        const events = new Map<string, CapacityEvent[]>();
        const info = await jsm.streams.info(STREAMS.capacity);
        for (let seq = info.state.first_seq; seq > 0 && seq <= info.state.last_seq; seq++) {
          const msg = await jsm.streams.getMessage(STREAMS.capacity, { seq }).catch(() => null);
          if (!msg?.subject.startsWith(prefix)) continue;
          const name = msg.subject.slice(prefix.length);
          events.set(name, [...(events.get(name) ?? []), decode(CapacityEvent, msg.data)]);
        }
        return events;
      },
      stop,
    };
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface CrashBatchOptions {
  vmis: number;
  seed: number;
  /** Kill nothing more once this many kills were done (default 2 per VMI). */
  maxKills?: number;
  /** Wait between kills, drawn from [min, max] ms (default 500–2000). */
  killGapMs?: [number, number];
  /** Client i sends its first apply after i × this (default 2000 ms). */
  staggerMs?: number;
  /** How long the batch may take to settle after the last kill (default 150 s). */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface VmiOutcome {
  name: string;
  requested: number;
  uid: string;
  applies: number;
  phase: string;
  problems: string[];
}

export interface CrashReport {
  seed: number;
  created: number;
  accepted: number;
  kills: Record<ServiceName, number>;
  restarts: number;
  applyRetries: number;
  /** Accepted VMIs that did not end Running exactly once, as planned. */
  lost: string[];
  problems: string[];
  outcomes: VmiOutcome[];
  seconds: number;
}

/** Requests 0–8 spread over the batch. */
export const requestOf = (index: number) => (index * 5) % 9;

export async function runCrashBatch(
  stack: CrashStack,
  options: CrashBatchOptions,
): Promise<CrashReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const maxKills = options.maxKills ?? options.vmis * 2;
  const [gapMin, gapMax] = options.killGapMs ?? [500, 2000];
  const kills: Record<ServiceName, number> = { validator: 0, "domain-composer": 0, launcher: 0 };
  let restarts = 0;
  let applyRetries = 0;
  const outcomes: VmiOutcome[] = [];
  let clientsDone = false;

  // Clients: apply, and apply again when no reply came, as a user re-runs `headroom apply`.
  const clients = Array.from({ length: options.vmis }, async (_, index) => {
    const name = `vmi-${index}`;
    const requested = requestOf(index);
    const outcome: VmiOutcome = { name, requested, uid: "", applies: 0, phase: "", problems: [] };
    outcomes.push(outcome);
    const manifest = await stack.seedManifest(name, requested);
    await sleep(index * (options.staggerMs ?? 2000));
    const deadline = Date.now() + 120_000;
    for (;;) {
      outcome.applies++;
      try {
        const reply = await stack.apply(manifest, 5000);
        if (reply.accepted) {
          if (outcome.uid && outcome.uid !== reply.accepted.uid)
            outcome.problems.push(`uid changed from ${outcome.uid} to ${reply.accepted.uid}`);
          outcome.uid = reply.accepted.uid ?? "";
          return;
        }
        outcome.problems.push(`rejected: ${JSON.stringify(reply.toJSON())}`);
        return;
      } catch (error) {
        applyRetries++;
        if (Date.now() > deadline) {
          outcome.problems.push(`never accepted: ${String(error)}`);
          return;
        }
        await sleep(500);
      }
    }
  });

  const settledCount = async () => {
    let count = 0;
    for (const outcome of outcomes) {
      if (!outcome.uid) continue;
      const reply = await stack.get(outcome.name).catch(() => null);
      const phase = reply?.vmi?.status?.phase;
      if (phase === Phase.PHASE_RUNNING || phase === Phase.PHASE_FAILED) count++;
    }
    return count;
  };

  // Chaos: kill a random service at a random moment, restart it after a random pause.
  const chaos = (async () => {
    let done = 0;
    while (done < maxKills) {
      await sleep(gapMin + random() * (gapMax - gapMin));
      if (clientsDone && (await settledCount().catch(() => 0)) >= options.vmis) break;
      const victim = SERVICES[Math.floor(random() * SERVICES.length)] as ServiceName;
      const pause = Math.floor(random() * 1500);
      log(`kill ${victim} (restart in ${pause} ms)`);
      await stack.kill(victim);
      kills[victim]++;
      done++;
      await sleep(pause);
      await stack.start(victim);
      restarts++;
    }
  })();

  await Promise.all(clients);
  clientsDone = true;
  await chaos;
  log(`chaos over: ${JSON.stringify(kills)}; waiting for the batch to settle`);

  const problems: string[] = [];
  const deadline = Date.now() + (options.settleTimeoutMs ?? 150_000);
  for (const outcome of outcomes) {
    if (!outcome.uid) continue;
    for (;;) {
      const reply = await stack.get(outcome.name).catch(() => null);
      const status = reply?.vmi?.status;
      if (status?.phase === Phase.PHASE_RUNNING || status?.phase === Phase.PHASE_FAILED) {
        outcome.phase = Phase[status.phase] ?? String(status.phase);
        if (status.phase === Phase.PHASE_FAILED)
          outcome.problems.push(`failed: ${status.reason ?? ""}`);
        if (status.uid !== outcome.uid) outcome.problems.push(`status uid ${status.uid}`);
        break;
      }
      if (Date.now() > deadline) {
        outcome.phase = status ? (Phase[status.phase ?? 0] ?? "?") : "none";
        outcome.problems.push(`did not settle (phase ${outcome.phase})`);
        break;
      }
      await sleep(500);
    }
  }

  // Every accepted VMI: one domain, named and identified as planned, running,
  // without placeholders, with its room free, and one reserved event.
  const domains = await stack.domains();
  const events = await stack.capacityEvents();
  const expected = new Set(outcomes.map((o) => domainNameOf(stack.namespace, o.name)));
  for (const orphan of domains.filter((d) => !expected.has(d)))
    problems.push(`orphan domain ${orphan}`);
  for (const outcome of outcomes) {
    if (!outcome.uid) continue;
    const domainName = domainNameOf(stack.namespace, outcome.name);
    const found = domains.filter((d) => d === domainName).length;
    if (found !== 1) {
      outcome.problems.push(`${found} domains named ${domainName}`);
      continue;
    }
    const domain = await stack.conn.lookupByName(domainName);
    if (domain.uuid.toLowerCase() !== outcome.uid.toLowerCase())
      outcome.problems.push(`domain uuid ${domain.uuid}, vmi uid ${outcome.uid}`);
    if (!(await domain.isActive())) outcome.problems.push("domain not running");
    const inactive = await domain.getXmlDesc({ inactive: true });
    if (inactive.includes("placeholder-")) outcome.problems.push("domain still holds placeholders");
    const described = await stack.describe(outcome.name).catch(() => null);
    const free = described?.live?.capacity?.free ?? -1;
    const interfaces = 2;
    if (free < Math.max(0, outcome.requested - interfaces))
      outcome.problems.push(`free ${free} < ${Math.max(0, outcome.requested - interfaces)}`);
    const reserved = (events.get(outcome.name) ?? []).filter(
      (e) => e.type === CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED && e.uid === outcome.uid,
    ).length;
    if (reserved !== 1) outcome.problems.push(`${reserved} reserved events`);
  }
  const lost = outcomes.filter((o) => o.uid && o.problems.length > 0).map((o) => o.name);
  for (const outcome of outcomes) {
    for (const problem of outcome.problems) problems.push(`${outcome.name}: ${problem}`);
  }
  outcomes.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  return {
    seed: options.seed,
    created: outcomes.length,
    accepted: outcomes.filter((o) => o.uid).length,
    kills,
    restarts,
    applyRetries,
    lost,
    problems,
    outcomes,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
