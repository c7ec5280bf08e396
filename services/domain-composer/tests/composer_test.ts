import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  acceptedSubject,
  decode,
  deletedMsgId,
  deletedSubject,
  encode,
  hostWorkSubject,
  STREAMS,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import { stripPlaceholders } from "@headroom/domain-xml";
import { Phase, Placement, VmiDeleted, VmiStatus } from "@headroom/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Doc, SEED_NETWORK, seedVmi } from "./fixtures.ts";
import {
  accept,
  consumed,
  countOn,
  createNetwork,
  type Harness,
  lastPlan,
  planSubject,
  publishAccepted,
  startHarness,
  statusOf,
  TEST_NODE,
  waitFor,
} from "./harness.ts";

const run = promisify(execFile);
const NS = "comp";
const BRIDGE = "hrcomp0";
let h: Harness;

beforeAll(async () => {
  h = await startHarness(2);
  const created = await createNetwork(h.nc, SEED_NETWORK, BRIDGE);
  expect(created.error ?? "").toBe("");
});

afterAll(async () => {
  await h?.stop();
});

let uidCounter = 0;
function newUid(): string {
  uidCounter += 1;
  return `00000000-0000-4000-8000-${String(uidCounter).padStart(12, "0")}`;
}

function seedNamed(name: string, change: (doc: Doc) => void = () => {}) {
  return seedVmi((doc) => {
    doc.metadata = { name, namespace: NS };
    change(doc);
  });
}

function allLogs(): string {
  return h.composers.map((c) => c.logs()).join("");
}

async function planFor(name: string) {
  return waitFor(`a plan for ${NS}/${name}`, () => lastPlan(h, NS, name));
}

/** The plan that hands a VMI on as one that cannot be composed. */
async function failedPlanFor(name: string) {
  const found = await planFor(name);
  expect(found.plan.composeFailure, "the plan carries no compose failure").not.toBe("");
  return found;
}

async function virtXmlValidate(xml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "composer-xml-"));
  try {
    await writeFile(join(dir, "domain.xml"), xml);
    const { stdout, stderr } = await run("virt-xml-validate", [join(dir, "domain.xml"), "domain"]);
    return `${stdout}${stderr}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("an accepted VMI", () => {
  it("becomes a DomainPlan the launcher can carry out, and the composer writes no status", async () => {
    const uid = newUid();
    await accept(h, seedNamed("seed"), { uid });
    const { plan, msgId } = await planFor("seed");
    const images = h.state.images;
    const vmDir = h.state.vmDir(NS, "seed");

    expect(msgId).toBe(`${uid}:1:plan`);
    expect(plan.uid).toBe(uid);
    expect(plan.generation).toBe(1);
    expect(plan.domainName).toBe(`${NS}_seed`);
    expect(plan.domainUuid).toBe(uid);
    expect(plan.machineType).toBe("q35");
    expect(plan.capacity).toMatchObject({ requested: 5, interfaces: 2, effective: 5 });
    expect(plan.placeholderCount).toBe(3);
    expect(plan.placeholderModel).toBe("virtio-non-transitional");
    expect(plan.bridges).toEqual([BRIDGE]);
    expect(plan.consoleLogPath).toBe(join(vmDir, "console.log"));
    expect(plan.composeFailure).toBe("");

    expect(plan.diskFiles).toHaveLength(1);
    const disk = plan.diskFiles[0];
    expect(disk?.volumeName).toBe("containerdisk");
    expect(disk?.path).toBe(join(vmDir, "containerdisk.qcow2"));
    expect(disk?.image).toBe("headroom/tiny-guest");
    expect(plan.images).toEqual(["headroom/tiny-guest"]);
    // The composer prepares nothing on the host: that is the launcher's job.
    expect(existsSync(vmDir)).toBe(false);

    const xml = plan.domainXml;
    expect(stripPlaceholders(xml).removed).toBe(0);
    expect(xml).not.toContain("placeholder");
    expect(xml).toContain(`<source file="${join(vmDir, "containerdisk.qcow2")}"/>`);
    expect(xml).toMatch(new RegExp(`<kernel>${images}/.+/boot/vmlinuz</kernel>`));
    expect(xml).toMatch(new RegExp(`<initrd>${images}/.+/boot/initrd.img</initrd>`));
    expect(xml).toContain(`<source bridge="${BRIDGE}"/>`);
    expect(await virtXmlValidate(xml)).toContain("validates");

    await consumed(h, NS, "seed");
    // Scheduled is the launcher's to write, once it takes the plan.
    expect(await statusOf(h, NS, "seed")).toBeNull();
  });

  it("delivered again composes again but publishes one plan", async () => {
    const uid = newUid();
    const record = await accept(h, seedNamed("again"), { uid });
    const first = await planFor("again");
    await consumed(h, NS, "again");
    // The same message id within the window: the stream itself drops it.
    const ack = await publishAccepted(h, record, `${uid}:1`);
    expect(ack.duplicate).toBe(true);
    // A redelivery (another message id, e.g. after the window): composed, deduplicated.
    await publishAccepted(h, record, `${uid}:1:again`);
    await consumed(h, NS, "again");
    await waitFor("the second composition", async () =>
      h.composers.some(
        (c) => c.logs().includes(`"vmi":"${NS}/again"`) && c.logs().includes("already published"),
      ),
    );
    expect(await countOn(h, planSubject(NS, "again"))).toBe(1);
    expect((await lastPlan(h, NS, "again"))?.plan.domainXml).toBe(first.plan.domainXml);
    expect(await statusOf(h, NS, "again")).toBeNull();
  });

  it("fails on an unknown network attachment, saying how to create it", async () => {
    const vmi = seedNamed("no-net", (doc) => {
      doc.spec.networks[1].multus.networkName = "nowhere";
    });
    const uid = newUid();
    await accept(h, vmi, { uid });
    const { plan } = await failedPlanFor("no-net");
    expect(plan.composeFailure).toContain(
      "network attachment 'nowhere' does not exist; create it with: headroom network create nowhere --bridge BRIDGE",
    );
    expect(plan.uid).toBe(uid);
    expect(plan.domainXml).toBe("");
    await consumed(h, NS, "no-net");
    expect(await countOn(h, planSubject(NS, "no-net"))).toBe(1);
    expect(await statusOf(h, NS, "no-net")).toBeNull();
  });

  it("leaves a RUNNING status alone, and plans a later generation", async () => {
    const uid = newUid();
    const vmi = seedNamed("running");
    const record = await accept(h, vmi, { uid });
    await planFor("running");
    await consumed(h, NS, "running");
    const running = { phase: Phase.PHASE_RUNNING, uid, observedGeneration: 1, node: "host-a" };
    await h.buckets.status.put(storeKey(NS, "running"), encode(VmiStatus, running));

    await publishAccepted(h, record, `${uid}:1:redelivered`);
    await consumed(h, NS, "running");
    await waitFor("the redelivery composed", async () =>
      h.composers.some(
        (c) => c.logs().includes(`"vmi":"${NS}/running"`) && c.logs().includes("already published"),
      ),
    );
    expect(await statusOf(h, NS, "running")).toMatchObject({
      phase: Phase.PHASE_RUNNING,
      node: "host-a",
    });

    // Generation 2 adds an interface: a new plan for the launcher to diff.
    const grown = seedNamed("running", (doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
      doc.spec.networks.push({ name: "third", multus: { networkName: SEED_NETWORK } });
    });
    await accept(h, grown, { uid, generation: 2 });
    const second = await waitFor("the generation 2 plan", async () => {
      const last = await lastPlan(h, NS, "running");
      return last?.plan.generation === 2 ? last : null;
    });
    expect(second.msgId).toBe(`${uid}:2:plan`);
    expect(second.plan.capacity).toMatchObject({ requested: 5, interfaces: 3, effective: 5 });
    expect(second.plan.placeholderCount).toBe(2);
    expect(await countOn(h, planSubject(NS, "running"))).toBe(2);
    // The running domain's status is the launcher's until it reports on generation 2.
    expect(await statusOf(h, NS, "running")).toMatchObject({
      phase: Phase.PHASE_RUNNING,
      observedGeneration: 1,
    });
  });

  it("hands a deletion to its VMI's host, also when a new VMI of its name was placed first", async () => {
    const oldUid = newUid();
    await accept(h, seedNamed("again-named"), { uid: oldUid });
    await planFor("again-named");
    // The new VMI's accepted message overtakes the old one's deletion.
    const newer = newUid();
    await accept(h, seedNamed("again-named"), { uid: newer });
    await waitFor("the new VMI's plan", async () => {
      const last = await lastPlan(h, NS, "again-named");
      return last?.plan.uid === newer;
    });
    await toJetStream(h.nc).publish(
      deletedSubject(NS, "again-named"),
      encode(VmiDeleted, { namespace: NS, name: "again-named", uid: oldUid, generation: 1 }),
      { msgID: deletedMsgId(oldUid) },
    );
    const subject = hostWorkSubject(TEST_NODE, "release", NS, "again-named");
    await waitFor("the old VMI's release", async () => (await countOn(h, subject)) === 1);
    const release = await h.jsm.streams.getMessage(STREAMS.hostWork, { last_by_subj: subject });
    expect(decode(VmiDeleted, release?.data ?? new Uint8Array()).uid).toBe(oldUid);
    // The new VMI keeps its place.
    const placement = await h.buckets.placements.get(storeKey(NS, "again-named"));
    expect(decode(Placement, placement?.value ?? new Uint8Array())).toMatchObject({
      uid: newer,
      node: TEST_NODE,
      previousUid: "",
    });
  });

  it("is dropped when the VMI was deleted, replaced or moved on meanwhile", async () => {
    const droppedBefore = allLogs().split("accepted VMI dropped").length - 1;
    // Deleted: nothing stored under its name any more.
    await accept(h, seedNamed("gone"), { uid: newUid(), store: false });
    // Replaced: a VMI of the same name with another uid is stored.
    const replaced = seedNamed("replaced");
    await accept(h, replaced, { uid: newUid() });
    await planFor("replaced");
    await publishAccepted(
      h,
      {
        namespace: NS,
        name: "replaced",
        uid: newUid(),
        generation: 1,
        manifestJson: JSON.stringify(replaced),
      },
      "an-older-vmi:1",
    );
    // Moved on: generation 2 is stored when generation 1 arrives late.
    const uid = newUid();
    const record = await accept(h, seedNamed("moved"), { uid, generation: 2 });
    await planFor("moved");
    await publishAccepted(h, { ...record, generation: 1 }, `${uid}:1`);

    for (const name of ["gone", "replaced", "moved"]) await consumed(h, NS, name);
    await waitFor(
      "three messages dropped",
      async () => allLogs().split("accepted VMI dropped").length - 1 >= droppedBefore + 3,
    );
    expect(await countOn(h, planSubject(NS, "gone"))).toBe(0);
    expect(await statusOf(h, NS, "gone")).toBeNull();
    expect(await countOn(h, planSubject(NS, "replaced"))).toBe(1);
    expect(await countOn(h, planSubject(NS, "moved"))).toBe(1);
    expect((await lastPlan(h, NS, "moved"))?.plan.generation).toBe(2);
    expect(await statusOf(h, NS, "moved")).toBeNull();
  });

  it("that is garbage is refused for good, and composing goes on", async () => {
    await toJetStream(h.nc).publish(
      acceptedSubject(NS, "garbage"),
      new Uint8Array([0xff, 0xff, 0xff]),
    );
    await consumed(h, NS, "garbage");
    await accept(h, seedNamed("after-garbage"), { uid: newUid() });
    await planFor("after-garbage");
    expect(await statusOf(h, NS, "garbage")).toBeNull();
  });
});

describe("two composer replicas", () => {
  it("share 20 accepted VMIs: each composes some, every VMI gets one plan", async () => {
    const before = h.composers.map((c) => c.logs().split('"plan published"').length - 1);
    const names = Array.from({ length: 20 }, (_, i) => `load-${i}`);
    await Promise.all(names.map((name) => accept(h, seedNamed(name), { uid: newUid() })));
    for (const name of names) {
      const { plan } = await planFor(name);
      expect(plan.name).toBe(name);
      expect(await countOn(h, planSubject(NS, name))).toBe(1);
      expect(plan.composeFailure).toBe("");
    }
    const after = h.composers.map((c) => c.logs().split('"plan published"').length - 1);
    const handled = after.map((count, i) => count - (before[i] ?? 0));
    expect(handled.reduce((a, b) => a + b, 0)).toBe(20);
    for (const count of handled) expect(count).toBeGreaterThanOrEqual(1);
  });
});
