/**
 * A headroom stack as child processes, the way it runs for real: a nats-server (JetStream on
 * disk), the validator, the composer and the launcher, libvirtd and QEMU with the tiny guest
 * in a private state dir, and the seed's bridged network. Services can be killed, restarted
 * and started again as replicas. Used by the crash batch (and the launcher's crash and fault
 * tests through it) and by the benchmarks that go through the services.
 */
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

/** The network attachment the seed's bridged interface names. */
const SEED_NETWORK = "headroom-bridge";

export interface StackOptions {
  /** Namespace of the VMIs; their domains are named `<namespace>_<name>`. */
  namespace: string;
  /** Services to start, one process each (default all three). */
  services?: readonly ServiceName[];
  /** Extra environment for the services (e.g. HEADROOM_VIRT_TYPE, HEADROOM_DETACH_TIMEOUT_MS). */
  env?: Record<string, string>;
}

export interface Stack {
  namespace: string;
  nats: NatsServer;
  nc: NatsConnection;
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
  /** Starts another process of a service (a restart, or a replica) and waits until it is ready. */
  start(name: ServiceName): Promise<void>;
  /** The seed example (examples/vmi-seed.yaml) in this namespace with an interface request. */
  seedManifest(name: string, request: number): Promise<Manifest>;
  apply(vmi: unknown, timeoutMs?: number): Promise<ApplyReply>;
  get(name: string): Promise<GetReply>;
  describe(name: string): Promise<DescribeReply>;
  delete(name: string): Promise<DeleteReply>;
  /** Domain names of this stack's namespace. */
  domains(): Promise<string[]>;
  /** Capacity events by VMI name, replayed from the stream's start. */
  capacityEvents(): Promise<Map<string, CapacityEvent[]>>;
  /** Removes every domain of the namespace, the services, nats, the bridge and the state dir. */
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const { namespace } = options;
  const wanted = options.services ?? SERVICES;
  const withGuests = wanted.includes("domain-composer") || wanted.includes("launcher");
  const withLibvirt = wanted.includes("launcher");
  const bridge = `hr-${randomBytes(3).toString("hex")}`;
  const started = new Map<ServiceName, ServiceProcess[]>();
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
    const all = [...started.values()].flat();
    await Promise.all(all.map((s) => s.stop().catch(() => {})));
    // Domains last: a launcher could still have been defining one.
    await removeDomains().catch(() => {});
    await conn?.close().catch(() => {});
    await nc?.close().catch(() => {});
    await nats?.stop().catch(() => {});
    if (withGuests) await run("ip", ["link", "del", "dev", bridge]).catch(() => {});
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  };

  try {
    if (withLibvirt) await ensureLibvirtd();
    stateDir = await mkdtemp(join(tmpdir(), "headroom-stack-"));
    // QEMU runs as its own user and must reach the images and disks in here.
    await chmod(stateDir, 0o755);
    const env: Record<string, string> = { ...options.env, HEADROOM_STATE_DIR: stateDir };
    if (withGuests) {
      await run("bash", [join(repoRoot(), "infra/tiny-guest/build.sh"), "--quiet"], {
        env: { ...process.env, ...env },
      });
    }
    nats = await startNats();
    env.HEADROOM_NATS_URL = nats.url;
    const launch = (name: ServiceName) => {
      const child = startService(`services/${name}/src/main.ts`, env);
      started.set(name, [...(started.get(name) ?? []), child]);
      return child;
    };
    await Promise.all(wanted.map((name) => launch(name).waitForLog(/ready/, 120_000)));
    // Restarts and replicas skip the KVM boot test: the first launcher already chose.
    const launcherLogs = started.get("launcher")?.[0]?.logs() ?? "";
    const chosen = /"virtType":"(kvm|qemu)"/.exec(launcherLogs);
    if (chosen?.[1]) env.HEADROOM_VIRT_TYPE = chosen[1];
    nc = await connect({ name: `stack-${namespace}`, servers: nats.url });
    if (withLibvirt) conn = await Connection.open("qemu:///system");
    if (wanted.includes("domain-composer")) {
      const created = await request(
        nc,
        API_SUBJECTS.createNetwork,
        CreateNetworkRequest,
        { name: SEED_NETWORK, bridge },
        CreateNetworkReply,
      );
      if (created.error) throw new Error(`network not created: ${created.error}`);
    }
    const seed = await readFile(join(repoRoot(), "examples/vmi-seed.yaml"), "utf8");
    const openNc = nc;
    const openNats = nats;
    const libvirt = () => {
      if (!conn) throw new Error("no libvirt connection (the stack runs no launcher)");
      return conn;
    };

    const stack: Stack = {
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
        const found = started.get(name)?.at(-1);
        if (!found) throw new Error(`${name} was never started`);
        return found;
      },
      processes: (name) => [...(started.get(name) ?? [])],
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
      delete: (name) =>
        request(openNc, API_SUBJECTS.delete, DeleteRequest, { namespace, name }, DeleteReply),
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
