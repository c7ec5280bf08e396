// The status the launcher writes when it takes a plan, over a real nats-server
// under the shipped permissions (the launcher's login), with a stand-in for
// libvirt that records every call: Scheduled on this node while libvirt works;
// for a plan carrying a compose failure, or a forged one, Failed with the
// reason and libvirt never asked; and never a step backwards.
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Buckets,
  connect,
  createLogger,
  decode,
  encode,
  ensureBuckets,
  ensureCredentials,
  ensureImageObjects,
  ensureStreams,
  type NatsConnection,
  OBJECT_STORES,
  type ObjectStore,
  serverEnv,
  storeKey,
  subjectToken,
} from "@headroom/bus";
import { hostState } from "@headroom/host-state";
import { uploadImage } from "@headroom/image-objects";
import type { Connection } from "@headroom/libvirt";
import {
  DomainPlan,
  HostRecord,
  type ICapacity,
  type IDomainPlan,
  type IGuestResources,
  type IVmiStatus,
  Phase,
  VmiAccepted,
} from "@headroom/proto";
import { type NatsServer, startNats } from "@headroom/testing";
import { Objm } from "@nats-io/obj";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LauncherContext, launcherContext } from "../src/context.ts";
import { executePlan } from "../src/plan.ts";
import { planProblems } from "../src/plan_check.ts";

const NS = "plans";
const NODE = "node-test";
const IMAGE_REASON =
  "spec.volumes[0].containerDisk.image: image headroom/absent is not in the image store at /var/lib/headroom/images; add it with: headroom image add headroom/absent PATH";
const NETWORK_REASON =
  "spec.networks[2].multus.networkName: network attachment 'nowhere' does not exist; create it with: headroom network create nowhere --bridge BRIDGE";

let secrets = "";
let stateDir = "";
let nats: NatsServer;
let launcher: NatsConnection;
let validator: NatsConnection;
let client: NatsConnection;
let buckets: Buckets;
let imageObjects: ObjectStore;
let vmis: Buckets["vmis"];

beforeAll(async () => {
  secrets = await mkdtemp(join(tmpdir(), "headroom-plan-status-"));
  stateDir = await mkdtemp(join(tmpdir(), "headroom-plan-state-"));
  const credentials = await ensureCredentials(join(secrets, "secrets"));
  nats = await startNats({ configFile: "infra/nats/headroom.conf", env: serverEnv(credentials) });
  const login = (user: "launcher" | "validator" | "client") =>
    connect({ name: `plan-status-${user}`, servers: nats.url, user, seed: credentials[user] });
  launcher = await login("launcher");
  validator = await login("validator");
  await ensureStreams(launcher);
  buckets = await ensureBuckets(launcher);
  imageObjects = await ensureImageObjects(launcher);
  client = await login("client");
  vmis = (await ensureBuckets(validator)).vmis;
}, 60_000);

afterAll(async () => {
  await client?.close();
  await launcher?.close();
  await validator?.close();
  await nats?.stop();
  if (secrets) await rm(secrets, { recursive: true, force: true });
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/**
 * A libvirt connection that records every call. findDomain (the first call of
 * a launch) waits until `refuse` is called and then fails with its message;
 * anything else fails at once.
 */
function recordingLibvirt() {
  const calls: string[] = [];
  let asked: () => void = () => {};
  const firstCall = new Promise<void>((resolve) => {
    asked = resolve;
  });
  let refuse: (message: string) => void = () => {};
  const refused = new Promise<never>((_resolve, reject) => {
    refuse = (message) => reject(new Error(message));
  });
  refused.catch(() => {});
  const conn = new Proxy(
    {},
    {
      get: (_target, method) => {
        // Not a promise: awaiting the connection must not call anything.
        if (method === "then") return undefined;
        return () => {
          calls.push(String(method));
          asked();
          if (method === "isAlive") return Promise.resolve(true);
          if (method === "findDomain") return refused;
          return Promise.reject(new Error(`unexpected libvirt call ${String(method)}`));
        };
      },
    },
  ) as Connection;
  return { conn, calls, firstCall, refuse };
}

function contextWith(conn: Connection): LauncherContext {
  const log = createLogger("plan-status-test", { level: "silent" });
  return launcherContext(launcher, conn, buckets, imageObjects, {
    log,
    virtType: "qemu",
    node: NODE,
    env: { HEADROOM_STATE_DIR: stateDir },
  });
}

/** Stores the VMI record as the validator does; the launcher checks plans against it. */
/** The guest domainXmlOf gives: 128 MiB, 1 vCPU, q35. */
const GUEST: IGuestResources = { memoryKib: 131072, vcpus: 1, machineType: "q35" };

async function store(
  name: string,
  uid: string,
  generation: number,
  capacity: ICapacity = {},
  guest?: IGuestResources,
): Promise<void> {
  const record = { namespace: NS, name, uid, generation, manifestJson: "{}", capacity };
  await vmis.put(storeKey(NS, name), encode(VmiAccepted, guest ? { ...record, guest } : record));
}

const NIC =
  '<interface type="network"><source network="headroom-pod"/><model type="virtio-non-transitional"/></interface>';

/** A domain as composeDomain writes one, with `devices` inside <devices>. */
function domainXmlOf(name: string, uid: string, devices = ""): string {
  return `<domain type="kvm"><name>${NS}_${name}</name><uuid>${uid}</uuid><memory unit="KiB">131072</memory><vcpu placement="static">1</vcpu><os><type arch="x86_64" machine="q35">hvm</type></os><devices>${devices}</devices></domain>`;
}

function planOf(name: string, uid: string, generation: number, extra: IDomainPlan = {}) {
  return DomainPlan.create({
    namespace: NS,
    name,
    uid,
    generation,
    domainName: `${NS}_${name}`,
    ...extra,
  });
}

async function statusOf(ctx: LauncherContext, name: string): Promise<IVmiStatus | null> {
  return ctx.readStatus(storeKey(NS, name));
}

function runningStatus(uid: string, generation: number, name: string): IVmiStatus {
  return {
    phase: Phase.PHASE_RUNNING,
    node: NODE,
    uid,
    observedGeneration: generation,
    domainName: `${NS}_${name}`,
    capacity: { requested: 5, interfaces: 2, effective: 5, free: 3, controllersAdded: 3, inUse: 2 },
  };
}

describe("a plan the launcher carries out", () => {
  it("is Scheduled on this node while libvirt works on it; the launch's outcome follows", async () => {
    const uid = "00000000-0000-4000-8000-000000000001";
    await store("taken", uid, 1);
    const libvirt = recordingLibvirt();
    const ctx = contextWith(libvirt.conn);
    const plan = planOf("taken", uid, 1, {
      domainUuid: uid,
      domainXml: domainXmlOf("taken", uid),
    });
    const done = executePlan(ctx, plan);
    await libvirt.firstCall;
    expect(libvirt.calls).toEqual(["findDomain"]);
    // libvirt holds its answer until refuse(): the Scheduled write, made
    // beside the launch, must land while the launch is still waiting.
    await expect
      .poll(async () => (await statusOf(ctx, "taken"))?.phase)
      .toBe(Phase.PHASE_SCHEDULED);
    expect(await statusOf(ctx, "taken")).toMatchObject({
      phase: Phase.PHASE_SCHEDULED,
      reason: "",
      node: NODE,
      uid,
      observedGeneration: 1,
      domainName: `${NS}_taken`,
    });

    libvirt.refuse("libvirt refused it in this test");
    expect(await done).toEqual({ kept: [] });
    expect(await statusOf(ctx, "taken")).toMatchObject({
      phase: Phase.PHASE_FAILED,
      reason: "libvirt refused it in this test",
      node: NODE,
      uid,
      observedGeneration: 1,
    });
  });
});

describe("a plan whose image this host lacks", () => {
  it("says in the VMI's status that the host fetches it, then launches from it", async () => {
    const uid = "00000000-0000-4000-8000-0000000000f1";
    const ref = "test/fetched:1";
    const tree = join(stateDir, "upload");
    await mkdir(join(tree, "disk"), { recursive: true });
    await writeFile(join(tree, "disk", "disk.raw"), Buffer.alloc(32 * 1024 * 1024, 5));
    const asClient = await new Objm(client).open(OBJECT_STORES.images);
    const uploaded = await uploadImage(asClient, ref, tree);
    await store("fetching", uid, 1);
    const libvirt = recordingLibvirt();
    const ctx = contextWith(libvirt.conn);
    // Every status the launcher writes, in order (the writes are real).
    const written: IVmiStatus[] = [];
    const advance = ctx.advanceStatus;
    ctx.advanceStatus = (key, status) => {
      written.push(status);
      return advance(key, status);
    };
    const done = executePlan(
      ctx,
      planOf("fetching", uid, 1, {
        domainUuid: uid,
        domainXml: domainXmlOf("fetching", uid),
        images: [ref],
      }),
    );
    await libvirt.firstCall;
    expect(written[0]).toMatchObject({ phase: Phase.PHASE_SCHEDULED, node: NODE });
    expect(written[0]?.reason).toMatch(
      /^fetching image test\/fetched:1 to node-test: [\d.]+ MiB of 32\.0 MiB$/,
    );
    // Once held, the launch's own Scheduled (no reason) follows.
    expect(written.at(-1)).toMatchObject({ phase: Phase.PHASE_SCHEDULED, reason: "" });
    const held = await ctx.imageStore.resolve(ref);
    expect(held.digest).toBe(uploaded.digest);
    const record = decode(
      HostRecord,
      (await buckets.hosts.get(subjectToken(NODE)))?.value ?? new Uint8Array(),
    );
    expect(record.images.map((image) => image.ref)).toContain(ref);
    libvirt.refuse("libvirt refused it in this test");
    await done;
  });
});

describe("a plan that carries a compose failure", () => {
  it("makes the VMI Failed with the composer's reason, and libvirt is never asked", async () => {
    const uid = "00000000-0000-4000-8000-000000000002";
    await store("no-image", uid, 1);
    const libvirt = recordingLibvirt();
    const ctx = contextWith(libvirt.conn);
    await executePlan(ctx, planOf("no-image", uid, 1, { composeFailure: IMAGE_REASON }));
    expect(await statusOf(ctx, "no-image")).toMatchObject({
      phase: Phase.PHASE_FAILED,
      reason: IMAGE_REASON,
      // No host took this generation.
      node: "",
      uid,
      observedGeneration: 1,
      domainName: `${NS}_no-image`,
    });
    expect(libvirt.calls).toEqual([]);
  });

  it("keeps a reason too long for a status to its first 4 KiB", async () => {
    const uid = "00000000-0000-4000-8000-000000000007";
    await store("wordy", uid, 1);
    const ctx = contextWith(recordingLibvirt().conn);
    await executePlan(ctx, planOf("wordy", uid, 1, { composeFailure: "x".repeat(1 << 20) }));
    const status = await statusOf(ctx, "wordy");
    expect(status?.phase).toBe(Phase.PHASE_FAILED);
    expect(status?.reason).toBe(`${"x".repeat(4096)}… (cut)`);
  });

  it("fails a running VMI's next generation and leaves its domain alone", async () => {
    const uid = "00000000-0000-4000-8000-000000000003";
    const libvirt = recordingLibvirt();
    const ctx = contextWith(libvirt.conn);
    await ctx.putStatus(storeKey(NS, "grown"), runningStatus(uid, 1, "grown"));
    await store("grown", uid, 2);
    await executePlan(ctx, planOf("grown", uid, 2, { composeFailure: NETWORK_REASON }));
    expect(await statusOf(ctx, "grown")).toMatchObject({
      phase: Phase.PHASE_FAILED,
      reason: NETWORK_REASON,
      uid,
      observedGeneration: 2,
    });
    expect(libvirt.calls).toEqual([]);
  });

  it("never replaces what a launch reported for the same generation", async () => {
    const uid = "00000000-0000-4000-8000-000000000004";
    const libvirt = recordingLibvirt();
    const ctx = contextWith(libvirt.conn);
    const running = runningStatus(uid, 1, "ran");
    await ctx.putStatus(storeKey(NS, "ran"), running);
    await store("ran", uid, 1);
    // Composed once and launched; composed again later (after the duplicate window), it failed.
    await executePlan(ctx, planOf("ran", uid, 1, { composeFailure: IMAGE_REASON }));
    expect(await statusOf(ctx, "ran")).toMatchObject(running);
    expect(libvirt.calls).toEqual([]);
  });

  it("is dropped when a newer generation is stored, and the status stays", async () => {
    const uid = "00000000-0000-4000-8000-000000000005";
    const libvirt = recordingLibvirt();
    const ctx = contextWith(libvirt.conn);
    const running = runningStatus(uid, 2, "moved");
    await ctx.putStatus(storeKey(NS, "moved"), running);
    await store("moved", uid, 3);
    await executePlan(ctx, planOf("moved", uid, 2, { composeFailure: IMAGE_REASON }));
    expect(await statusOf(ctx, "moved")).toMatchObject(running);
    expect(libvirt.calls).toEqual([]);
  });
});

describe("a plan that is not what headroom composes for its VMI", () => {
  // Outside the state dir; a launcher that obeyed would write its disk here.
  const hostile = join(tmpdir(), `headroom-forged-${process.pid}.qcow2`);
  // The VMI as the validator stored it: 8 interfaces asked for, 2 declared.
  const ROOM: ICapacity = { requested: 8, interfaces: 2, effective: 8 };
  const twoNics = (name: string, uid: string, more = "") =>
    domainXmlOf(name, uid, `${NIC}${NIC}${more}`);
  /** The plan as headroom composes it for the VMI; each forgery changes one thing. */
  const basePlan = (name: string, uid: string, forged: IDomainPlan = {}) =>
    planOf(name, uid, 1, {
      domainUuid: uid,
      capacity: ROOM,
      placeholderCount: 6,
      domainXml: twoNics(name, uid),
      ...forged,
    });
  const forgeries: [string, (name: string, uid: string) => IDomainPlan, RegExp][] = [
    [
      "no room where the VMI asked for it",
      () => ({ placeholderCount: 0 }),
      /placeholderCount 0 is not the VMI's \(6: 8 requested, 2 interfaces\)/,
    ],
    [
      "a capacity of its own",
      () => ({ capacity: { requested: 2, interfaces: 2, effective: 2 } }),
      /capacity is not the VMI's as the validator accepted it/,
    ],
    [
      "an interface the VMI does not declare",
      (name, uid) => ({ domainXml: twoNics(name, uid, NIC) }),
      /domainXml: domain\/devices: 3 interfaces where the VMI declares 2/,
    ],
    [
      "another VMI's domain name",
      () => ({ domainName: "prod_db" }),
      /domainName "prod_db" is not the VMI's \(plans_forged-\d+\)/,
    ],
    [
      "a disk file outside the VMI's directory",
      () => ({ diskFiles: [{ volumeName: "root", path: hostile, blankSizeBytes: 1 << 20 }] }),
      /diskFiles\[0\]\.path ".*headroom-forged-\d+\.qcow2" is not the volume's file/,
    ],
    [
      "a disk on an image the plan does not name",
      (name) => ({
        diskFiles: [
          {
            volumeName: "root",
            path: hostState({ HEADROOM_STATE_DIR: stateDir }).volumeFile(NS, name, "root"),
            image: "lab/other",
          },
        ],
      }),
      /diskFiles\[0\]\.image "lab\/other" is not one of the plan's images/,
    ],
    [
      "a disk file in an image named by a relative path",
      (name) => ({
        diskFiles: [
          {
            volumeName: "root",
            path: hostState({ HEADROOM_STATE_DIR: stateDir }).volumeFile(NS, name, "root"),
            image: "lab/guest",
            imageDiskPath: "/disk/../../../etc/shadow",
          },
        ],
      }),
      /diskFiles\[0\]\.imageDiskPath "\/disk\/\.\.\/\.\.\/\.\.\/etc\/shadow" is not an absolute path in an image/,
    ],
    [
      "a kernel from an image the plan does not name",
      (name, uid) => ({
        domainXml: twoNics(name, uid).replace(
          "<type ",
          `<kernel>${join(stateDir, "images", "refs", "lab%2Fother", "root", "boot", "vmlinuz")}</kernel><type `,
        ),
      }),
      /domainXml: boot file ".*lab%2Fother.*" is not in one of the plan's images/,
    ],
    [
      "a host device in the domain",
      (name, uid) => ({ domainXml: twoNics(name, uid, '<hostdev mode="subsystem" type="pci"/>') }),
      /domainXml: domain\/devices\/hostdev: not an element headroom composes/,
    ],
    [
      "a console log written elsewhere",
      () => ({ consoleLogPath: hostile }),
      /consoleLogPath ".*headroom-forged-\d+\.qcow2" is not the VMI's console log/,
    ],
    [
      "more memory than the VMI has",
      (name, uid) => ({
        domainXml: twoNics(name, uid).replace(">131072<", ">104857600<"),
      }),
      /domainXml: domain\/memory: "104857600" KiB where the VMI has 131072/,
    ],
    [
      "more vCPUs than the VMI has",
      (name, uid) => ({ domainXml: twoNics(name, uid).replace(">1</vcpu>", ">64</vcpu>") }),
      /domainXml: domain\/vcpu: "64" where the VMI has 1/,
    ],
    [
      "another machine than the VMI's",
      (name, uid) => ({ domainXml: twoNics(name, uid).replace('machine="q35"', 'machine="pc"') }),
      /domainXml: domain\/os\/type: machine "pc" where the VMI has q35/,
    ],
    [
      "a bridge that is not an interface name",
      () => ({ bridges: ["../../x"] }),
      /bridges: "..\/..\/x"/,
    ],
    [
      "ten thousand host devices, ten of them shown and the rest counted",
      (name, uid) => ({ domainXml: twoNics(name, uid, "<hostdev/>".repeat(10_000)) }),
      /^the plan was refused: (domainXml: domain\/devices\/hostdev: not an element headroom composes; ){10}and 9990 more$/,
    ],
  ];

  it.each(forgeries.map((forgery, i) => [forgery[0], i, forgery[1], forgery[2]] as const))(
    "refuses %s: Failed with the reason, libvirt never asked, nothing made",
    async (_what, i, forge, named) => {
      const name = `forged-${i}`;
      const uid = `00000000-0000-4000-8000-0000000001${String(i).padStart(2, "0")}`;
      await store(name, uid, 1, ROOM, GUEST);
      const libvirt = recordingLibvirt();
      const ctx = contextWith(libvirt.conn);
      const plan = basePlan(name, uid, forge(name, uid));
      expect(await executePlan(ctx, plan)).toEqual({ kept: [] });
      const status = await statusOf(ctx, name);
      expect(status).toMatchObject({ phase: Phase.PHASE_FAILED, uid, observedGeneration: 1 });
      expect(status?.reason).toMatch(/^the plan was refused: /);
      expect(status?.reason).toMatch(named);
      expect(libvirt.calls).toEqual([]);
      expect(existsSync(hostile)).toBe(false);
      expect(existsSync(hostState({ HEADROOM_STATE_DIR: stateDir }).vmDir(NS, name))).toBe(false);
    },
  );
});

describe("a plan as headroom composes it", () => {
  it("passes the launcher's check: the forgeries above each change one thing of it", async () => {
    const uid = "00000000-0000-4000-8000-000000000199";
    const plan = planOf("honest", uid, 1, {
      domainUuid: uid,
      capacity: { requested: 8, interfaces: 2, effective: 8 },
      placeholderCount: 6,
      domainXml: domainXmlOf("honest", uid, `${NIC}${NIC}`),
    });
    const state = hostState({ HEADROOM_STATE_DIR: stateDir });
    expect(await planProblems(plan, state, { capacity: plan.capacity, guest: GUEST })).toEqual([]);
  });
});

describe("the launcher's compare-and-set of a status it takes a plan with", () => {
  it("never puts Scheduled over Running of the same VMI, nor anything over a newer generation", async () => {
    const ctx = contextWith(recordingLibvirt().conn);
    const uid = "00000000-0000-4000-8000-000000000006";
    const key = storeKey(NS, "steady");
    const running = runningStatus(uid, 2, "steady");
    await ctx.putStatus(key, running);
    const scheduled = (generation: number, of = uid): IVmiStatus => ({
      phase: Phase.PHASE_SCHEDULED,
      uid: of,
      observedGeneration: generation,
      node: NODE,
    });
    // The same generation delivered again, and the running VMI's next generation.
    expect(await ctx.advanceStatus(key, scheduled(2))).toBe(false);
    expect(await ctx.advanceStatus(key, scheduled(3))).toBe(false);
    // A failure of an older generation.
    expect(
      await ctx.advanceStatus(key, {
        phase: Phase.PHASE_FAILED,
        reason: "late",
        uid,
        observedGeneration: 1,
      }),
    ).toBe(false);
    expect(await ctx.readStatus(key)).toMatchObject(running);
    // A VMI created again under the same name starts afresh.
    const other = "00000000-0000-4000-8000-000000000007";
    expect(await ctx.advanceStatus(key, scheduled(1, other))).toBe(true);
    expect(await ctx.readStatus(key)).toMatchObject({
      phase: Phase.PHASE_SCHEDULED,
      uid: other,
      observedGeneration: 1,
    });
  });

  it("writes where no status is, and replaces one that does not decode", async () => {
    const ctx = contextWith(recordingLibvirt().conn);
    const uid = "00000000-0000-4000-8000-000000000008";
    const fresh = storeKey(NS, "fresh");
    const next: IVmiStatus = { phase: Phase.PHASE_SCHEDULED, uid, observedGeneration: 1 };
    expect(await ctx.advanceStatus(fresh, next)).toBe(true);
    expect(await ctx.readStatus(fresh)).toMatchObject(next);
    const garbled = storeKey(NS, "garbled");
    await buckets.status.put(garbled, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(await ctx.advanceStatus(garbled, next)).toBe(true);
    expect(await ctx.readStatus(garbled)).toMatchObject(next);
  });
});
