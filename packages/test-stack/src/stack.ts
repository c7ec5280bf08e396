/**
 * A headroom stack as child processes, the way it runs for real: a nats-server (JetStream on
 * disk), the validator, the composer and the launcher, libvirtd and QEMU with the tiny guest
 * in a private state dir, and the seed's bridged network. With logins (the default) NATS runs
 * infra/nats/headroom.conf and every process logs in as its own user, as `headroom up` does.
 * Services can be killed, restarted and started again as replicas.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  API_SUBJECTS,
  connect,
  decode,
  ensureCredentials,
  HOST_API,
  hostApiSubject,
  type NatsConnection,
  type NatsCredentials,
  request,
  SERVICE_USERS,
  STREAMS,
  serverEnv,
  threadPoolEnv,
  toJetStream,
  userEnv,
} from "@headroom/bus";
import { bridgeNetworkName } from "@headroom/domain-manager";
import { domainNameOf, type HostState, hostState } from "@headroom/host-state";
import { Connection } from "@headroom/libvirt";
import {
  ApplyReply,
  ApplyRequest,
  CapacityEvent,
  CreateNetworkReply,
  CreateNetworkRequest,
  DeleteReply,
  DeleteRequest,
  DescribeReply,
  DescribeRequest,
  GetReply,
  GetRequest,
  Phase,
  type VmiRecord,
} from "@headroom/proto";
import {
  ensureLibvirtd,
  type NatsCluster,
  type NatsServer,
  repoRoot,
  type ServiceProcess,
  startNats,
  startNatsCluster,
  startService,
} from "@headroom/testing";
import { parseDocument } from "@headroom/vmi";

const run = promisify(execFile);

export const SERVICES = ["validator", "domain-composer", "launcher"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** A VMI document as a test edits it: loosely typed on purpose, tests write bad values too. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Manifest = Record<string, any>;

/** The network attachment the seed's bridged interface names. */
export const SEED_NETWORK = "headroom-bridge";

/** How long a service may take to log "ready" (the launcher's KVM check boots a guest). */
const READY_TIMEOUT_MS = 120_000;

export interface StackOptions {
  /** Namespace of the VMIs; their domains are named `<namespace>_<name>` (default stack-<hex>). */
  namespace?: string;
  /**
   * Services to start, one process per entry (default all three); a name given twice starts
   * two processes of it.
   */
  services?: readonly ServiceName[];
  /**
   * Run NATS with infra/nats/headroom.conf, each service logged in as its own user and the
   * stack's connection as the client user (default true). Without, NATS lets anyone do
   * anything: for tests that play a service themselves, and benchmarks that watch the pipeline.
   */
  logins?: boolean;
  /** Extra environment for the services (e.g. HEADROOM_VIRT_TYPE, HEADROOM_DETACH_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** Build the tiny guest into the state dir's image store (default: when a composer or launcher runs). */
  tinyGuest?: boolean;
  /** Create the seed's network attachment on the stack's bridge (default: when a composer runs). */
  seedNetwork?: boolean;
  /** Runs once the state dir (and tiny guest) exist, before any service starts. */
  prepare?: (stateDir: string) => Promise<void>;
  /**
   * NATS servers (default 1). More make a cluster with infra/nats/cluster.conf (needs
   * logins), every stream and bucket on min(3, n) of them, and every process given every URL.
   */
  natsServers?: number;
}

export interface Stack {
  namespace: string;
  /** The (first) NATS server. */
  nats: NatsServer;
  /** Every NATS server of the stack: one, or the cluster's. */
  natsServers: NatsServer[];
  /** nats://127.0.0.1:<port>, comma-separated for a cluster (as --server takes them). */
  natsUrl: string;
  /** The stack's own connection, logged in as the client user when logins are on. */
  nc: NatsConnection;
  /** Environment of a process that connects as a client (the CLI): URL, and the client login. */
  clientEnv: Record<string, string>;
  /** The users' NKEY seeds (in `<stateDir>/secrets`, where the CLI reads client.env); none without logins. */
  credentials: NatsCredentials | undefined;
  /** The private state dir (HEADROOM_STATE_DIR of every service). */
  stateDir: string;
  state: HostState;
  /** The host bridge the seed network attaches to (removed by stop). */
  bridge: string;
  /** The stack's own libvirt connection (see reopenLibvirt); only with a launcher. */
  readonly conn: Connection;
  /** Opens a new libvirt connection, after libvirtd was restarted. */
  reopenLibvirt(): Promise<void>;
  /** The process of a service started last. */
  service(name: ServiceName): ServiceProcess;
  /** Every process of a service started so far, running or not. */
  processes(name: ServiceName): ServiceProcess[];
  /** SIGKILLs the service's latest process and waits until it is gone. */
  kill(name: ServiceName): Promise<void>;
  /**
   * Starts another process of a service (a restart, a replica, or a launcher
   * of another host with HEADROOM_NODE_NAME in `env`) and waits until it is ready.
   */
  start(name: ServiceName, env?: Record<string, string>): Promise<ServiceProcess>;
  /** The seed example (examples/vmi-seed.yaml) in this namespace, with a name, machine and request. */
  seedManifest(name: string, changes?: { machine?: string; request?: number }): Promise<Manifest>;
  apply(vmi: unknown, timeoutMs?: number): Promise<ApplyReply>;
  get(name: string): Promise<GetReply>;
  describe(name: string): Promise<DescribeReply>;
  delete(name: string): Promise<DeleteReply>;
  /** Polls until the VMI is Running or Failed (and, if given, has seen `generation`). */
  settled(name: string, generation?: number): Promise<VmiRecord>;
  /** The live domain XML of a VMI. */
  liveXml(name: string): Promise<string>;
  /** Domain names of this stack's namespace. */
  domains(): Promise<string[]>;
  /** Every capacity event of a VMI, replayed from the stream's start. */
  capacityEvents(name: string): Promise<CapacityEvent[]>;
  /** Capacity events of the namespace by VMI name, replayed from the stream's start. */
  capacityEventsByName(): Promise<Map<string, CapacityEvent[]>>;
  /** nats-server's log lines matching `pattern` (default: every refusal, / Violation /). */
  violations(pattern?: RegExp): string[];
  /** Removes the services, every domain of the namespace, nats, the bridge and the state dir. */
  stop(): Promise<void>;
}

/** A namespace nobody else uses: `<prefix>-<6 hex>`. */
export function uniqueNamespace(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

/** A fresh temporary state dir QEMU (running as its own user) can read. */
export async function privateStateDir(prefix = "headroom-stack-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return dir;
}

/** The seed example (examples/vmi-seed.yaml) as `namespace/name`, with a machine and request. */
export async function seedManifest(
  namespace: string,
  name: string,
  changes: { machine?: string; request?: number } = {},
): Promise<Manifest> {
  const vmi = parseDocument(
    await readFile(join(repoRoot(), "examples/vmi-seed.yaml"), "utf8"),
  ) as Manifest;
  vmi.metadata = { name, namespace };
  if (changes.machine) vmi.spec.domain.machine = { type: changes.machine };
  if (changes.request !== undefined)
    vmi.spec.domain.resources.requests["kubevirt.io/interface"] = changes.request;
  return vmi;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const namespace = options.namespace ?? uniqueNamespace("stack");
  const wanted = options.services ?? SERVICES;
  const logins = options.logins ?? true;
  const withComposer = wanted.includes("domain-composer");
  const withLibvirt = wanted.includes("launcher");
  const withGuest = options.tinyGuest ?? (withComposer || withLibvirt);
  const withNetwork = options.seedNetwork ?? withComposer;
  const bridge = `hr-${randomBytes(3).toString("hex")}`;
  const started = new Map<ServiceName, ServiceProcess[]>();
  let stateDir = "";
  let credentials: NatsCredentials | undefined;
  let nats: NatsServer | undefined;
  let cluster: NatsCluster | undefined;
  let nc: NatsConnection | undefined;
  let conn: Connection | undefined;

  const removeDomains = async () => {
    if (!conn) return;
    const ours = (await conn.listDomainNames()).filter((name) => name.startsWith(`${namespace}_`));
    // At once: destroying a TCG guest waits about 1.6 s for QEMU to go.
    await Promise.all(
      ours.map(async (name) => {
        const domain = await conn?.findDomain(name);
        if (await domain?.isActive()) await domain?.destroy().catch(() => {});
        await domain?.undefine({ nvram: true }).catch(() => {});
      }),
    );
  };

  const stop = async () => {
    const all = [...started.values()].flat();
    await Promise.all(all.map((s) => s.stop().catch(() => {})));
    // Domains last: a launcher could still have been defining one.
    await removeDomains().catch(() => {});
    await conn?.close().catch(() => {});
    await nc?.close().catch(() => {});
    await nats?.stop().catch(() => {});
    await cluster?.stop().catch(() => {});
    // Only the launcher makes bridges (for the VMIs' bridged interfaces).
    if (withLibvirt) await deleteBridge(bridge);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  };

  try {
    if (withLibvirt) await ensureLibvirtd();
    stateDir = await privateStateDir();
    // TCG unless a test asks: the KVM check (domain-manager's kvm_check_test)
    // takes up to 15 s where KVM starts guests it cannot boot from disk.
    const env: Record<string, string> = {
      HEADROOM_VIRT_TYPE: "qemu",
      ...options.env,
      HEADROOM_STATE_DIR: stateDir,
    };
    if (withGuest) {
      await run("bash", [join(repoRoot(), "infra/tiny-guest/build.sh"), "--quiet"], {
        env: { ...process.env, ...env },
      });
    }
    await options.prepare?.(stateDir);
    const natsServers = options.natsServers ?? 1;
    if (natsServers > 1) {
      if (!logins) throw new Error("a NATS cluster stack runs with logins");
      credentials = await ensureCredentials(hostState(env).secrets);
      cluster = await startNatsCluster(natsServers, serverEnv(credentials));
      env.HEADROOM_NATS_REPLICAS = String(Math.min(3, natsServers));
    } else if (logins) {
      // NATS as `headroom up` runs it: infra/nats/headroom.conf, each service its own user,
      // the stack's connection the client user, as the CLI is.
      credentials = await ensureCredentials(hostState(env).secrets);
      nats = await startNats({
        configFile: "infra/nats/headroom.conf",
        env: serverEnv(credentials),
      });
    } else {
      nats = await startNats();
    }
    const natsUrl = cluster?.urls ?? (nats as NatsServer).url;
    env.HEADROOM_NATS_URL = natsUrl;
    const openCredentials = credentials;
    const launch = (name: ServiceName, extraEnv: Record<string, string> = {}) => {
      const login = openCredentials ? userEnv(openCredentials, SERVICE_USERS[name]) : {};
      const child = startService(`services/${name}/src/main.ts`, {
        ...env,
        ...extraEnv,
        ...threadPoolEnv(name, { ...process.env, ...env, ...extraEnv }),
        ...login,
      });
      started.set(name, [...(started.get(name) ?? []), child]);
      return child;
    };
    await Promise.all(wanted.map((name) => launch(name).waitForLog(/ready/, READY_TIMEOUT_MS)));
    const clientEnv: Record<string, string> = {
      HEADROOM_NATS_URL: natsUrl,
      ...(credentials ? userEnv(credentials, "client") : {}),
    };
    nc = await connect({
      name: `stack-${namespace}`,
      servers: natsUrl.split(","),
      ...(credentials ? { user: "client", seed: credentials.client } : {}),
    });
    if (withLibvirt) conn = await Connection.open("qemu:///system");
    if (withNetwork) {
      const created = await request(
        nc,
        API_SUBJECTS.createNetwork,
        CreateNetworkRequest,
        { name: SEED_NETWORK, bridge },
        CreateNetworkReply,
      );
      if (created.error) throw new Error(`network not created: ${created.error}`);
    }
    const openNc = nc;
    const allNats = cluster?.servers ?? [nats as NatsServer];
    const openNats = allNats[0] as NatsServer;
    const libvirt = () => {
      if (!conn) throw new Error("no libvirt connection (the stack runs no launcher)");
      return conn;
    };
    const replayCapacity = async (subjectPrefix: string) => {
      const jsm = await toJetStream(openNc).jetstreamManager();
      const found: { subject: string; event: CapacityEvent }[] = [];
      const info = await jsm.streams.info(STREAMS.capacity);
      for (let seq = info.state.first_seq; seq > 0 && seq <= info.state.last_seq; seq++) {
        const msg = await jsm.streams.getMessage(STREAMS.capacity, { seq }).catch(() => null);
        if (!msg?.subject.startsWith(subjectPrefix)) continue;
        found.push({ subject: msg.subject, event: decode(CapacityEvent, msg.data) });
      }
      return found;
    };

    const stack: Stack = {
      namespace,
      nats: openNats,
      natsServers: allNats,
      natsUrl,
      nc: openNc,
      clientEnv,
      credentials,
      stateDir,
      state: hostState({ HEADROOM_STATE_DIR: stateDir }),
      bridge,
      get conn() {
        return libvirt();
      },
      async reopenLibvirt() {
        await conn?.close().catch(() => {});
        conn = await Connection.open("qemu:///system");
      },
      service(name) {
        const found = started.get(name)?.at(-1);
        if (!found) throw new Error(`${name} was never started`);
        return found;
      },
      processes: (name) => [...(started.get(name) ?? [])],
      async kill(name) {
        await stack.service(name).kill();
      },
      async start(name, extraEnv) {
        const child = launch(name, extraEnv);
        await child.waitForLog(/ready/, READY_TIMEOUT_MS);
        return child;
      },
      seedManifest: (name, changes) => seedManifest(namespace, name, changes),
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
      async describe(name) {
        // Asked of the VMI's host; one never placed, of the stack's own launcher.
        const got = await request(
          openNc,
          API_SUBJECTS.get,
          GetRequest,
          { namespace, name },
          GetReply,
        );
        const node =
          got.vmi?.status?.node || got.vmi?.node || options.env?.HEADROOM_NODE_NAME || hostname();
        const subject = hostApiSubject(node, HOST_API.describe);
        return request(openNc, subject, DescribeRequest, { namespace, name }, DescribeReply);
      },
      delete: (name) =>
        request(openNc, API_SUBJECTS.delete, DeleteRequest, { namespace, name }, DeleteReply),
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
        const domain = await libvirt().lookupByName(domainNameOf(namespace, name));
        return domain.getXmlDesc();
      },
      async domains() {
        return (await libvirt().listDomainNames()).filter((n) => n.startsWith(`${namespace}_`));
      },
      async capacityEvents(name) {
        const subject = `headroom.capacity.${namespace}.${name}`;
        return (await replayCapacity(subject))
          .filter((found) => found.subject === subject)
          .map((found) => found.event);
      },
      async capacityEventsByName() {
        const prefix = `headroom.capacity.${namespace}.`;
        const events = new Map<string, CapacityEvent[]>();
        for (const { subject, event } of await replayCapacity(prefix)) {
          const name = subject.slice(prefix.length);
          events.set(name, [...(events.get(name) ?? []), event]);
        }
        return events;
      },
      violations: (pattern = / Violation /) =>
        allNats.flatMap((server) => server.logs().split("\n")).filter((line) => pattern.test(line)),
      stop,
    };
    return stack;
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Deletes a bridge the launcher made: its transient libvirt network, and the bridge with it. */
export async function deleteBridge(bridge: string): Promise<void> {
  await run("virsh", ["-c", "qemu:///system", "net-destroy", bridgeNetworkName(bridge)]).catch(
    () => {},
  );
  await run("ip", ["link", "del", "dev", bridge]).catch(() => {});
}
