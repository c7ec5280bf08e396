// addinterface and removeinterface as the validator serves them over a real
// nats-server: each is the VMI's next generation, handed to the pipeline like
// an apply; no room means a refusal that changes nothing and is handed to the
// launcher as an exhausted notice. The launcher's word comes from the status
// bucket, written here as a launcher would.
import {
  API_SUBJECTS,
  BUCKETS,
  connect,
  decode,
  encode,
  type NatsConnection,
  request,
  STREAMS,
  storeKey,
} from "@headroom/bus";
import {
  AddInterfaceRequest,
  ApplyReply,
  ApplyRequest,
  GetReply,
  GetRequest,
  InterfaceRefused,
  InterfaceReply,
  InterfaceState,
  type IVmiStatus,
  Phase,
  RemoveInterfaceRequest,
  VmiAccepted,
  VmiStatus,
} from "@headroom/proto";
import { type NatsServer, type ServiceProcess, startNats, startService } from "@headroom/testing";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeSlots } from "../src/interfaces.ts";
import { vmiDoc } from "./fixtures.ts";

const NS = "team-a";
let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let statusBucket: KV;
let validator: ServiceProcess;

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  validator = startService("services/validator/src/main.ts", { HEADROOM_NATS_URL: nats.url });
  await validator.waitForLog("validator ready");
  nc = await connect({ name: "interfaces-test", servers: nats.url });
  jsm = await jetstreamManager(nc);
  statusBucket = await new Kvm(nc).open(BUCKETS.status);
});

afterAll(async () => {
  await validator?.stop();
  await nc?.close();
  await nats?.stop();
});

const add = (name: string, interfaceName: string, networkName = "headroom-bridge") =>
  request(
    nc,
    API_SUBJECTS.addInterface,
    AddInterfaceRequest,
    { namespace: NS, name, interfaceName, networkName },
    InterfaceReply,
  );
const remove = (name: string, interfaceName: string) =>
  request(
    nc,
    API_SUBJECTS.removeInterface,
    RemoveInterfaceRequest,
    { namespace: NS, name, interfaceName },
    InterfaceReply,
  );

async function stored(name: string) {
  const reply = await request(nc, API_SUBJECTS.get, GetRequest, { namespace: NS, name }, GetReply);
  const record = reply.vmi;
  return {
    generation: Number(record?.generation),
    interfaces: JSON.parse(record?.manifestJson ?? "{}").spec?.domain?.devices?.interfaces?.map(
      (i: { name: string }) => i.name,
    ),
  };
}

/** Creates the VMI and reports it Running with `free` free slots, as a launcher would. */
async function running(name: string, free: number) {
  const doc = vmiDoc((d) => {
    d.metadata.name = name;
  });
  const applied = await request(
    nc,
    API_SUBJECTS.apply,
    ApplyRequest,
    { manifestJson: JSON.stringify(doc) },
    ApplyReply,
  );
  const uid = applied.accepted?.uid ?? "";
  const status: IVmiStatus = {
    phase: Phase.PHASE_RUNNING,
    uid,
    observedGeneration: 1,
    capacity: { requested: 5, interfaces: 2, effective: 5, free, inUse: 2 },
    interfaces: ["default", "secondary"].map((n) => ({
      name: n,
      state: InterfaceState.INTERFACE_STATE_ATTACHED,
    })),
  };
  await statusBucket.put(storeKey(NS, name), encode(VmiStatus, status));
  return uid;
}

async function lastOn(subject: string) {
  return jsm.streams.getMessage(STREAMS.pipeline, { last_by_subj: subject }).catch(() => null);
}

describe("addinterface", () => {
  it("stores the VMI with the interface as its next generation and hands it on", async () => {
    await running("grows", 3);
    const reply = await add("grows", "third");
    expect(reply).toMatchObject({ ok: true, reason: "" });
    expect(Number(reply.generation)).toBe(2);
    expect(await stored("grows")).toEqual({
      generation: 2,
      interfaces: ["default", "secondary", "third"],
    });
    const handedOn = await lastOn(`headroom.pipeline.accepted.${storeKey(NS, "grows")}`);
    expect(Number(decode(VmiAccepted, handedOn?.data ?? new Uint8Array()).generation)).toBe(2);
  });

  it("counts an interface on its way against the free slots", async () => {
    await running("pending", 1);
    expect((await add("pending", "third")).ok).toBe(true);
    // The launcher has not reported generation 2 yet: its one free slot is taken.
    const second = await add("pending", "fourth");
    expect(second).toMatchObject({ ok: false, reason: "Exhausted" });
    expect((await stored("pending")).interfaces).toEqual(["default", "secondary", "third"]);
  });

  it("refuses when no slot is free, changes nothing, and hands the refusal to the launcher", async () => {
    const uid = await running("full", 0);
    const reply = await add("full", "extra");
    expect(reply.ok).toBe(false);
    expect(reply.reason).toBe("Exhausted");
    expect(reply.message).toBe(
      `vmi ${NS}/full has no free slot for interface extra: it asked for 5 (effective 5), 2 in use, 0 free`,
    );
    expect(await stored("full")).toEqual({ generation: 1, interfaces: ["default", "secondary"] });
    const notice = await lastOn(`headroom.pipeline.refused.${storeKey(NS, "full")}`);
    expect(decode(InterfaceRefused, notice?.data ?? new Uint8Array())).toMatchObject({
      namespace: NS,
      name: "full",
      uid,
      interfaceName: "extra",
    });
  });

  it("checks the name before the room: a name no VMI could have is Invalid and hands nothing on", async () => {
    await running("full-too", 0);
    const subject = `headroom.pipeline.refused.${storeKey(NS, "full-too")}`;
    const huge = "x".repeat(600_000);
    const reply = await add("full-too", huge);
    expect(reply).toMatchObject({ ok: false, reason: "Invalid" });
    expect(reply.message).toMatch(/^spec\.domain\.devices\.interfaces\[2\]\.name: /);
    expect(await lastOn(subject)).toBeNull();
  });

  it("refuses an interface name the VMI already has, naming the field", async () => {
    await running("twice", 3);
    const reply = await add("twice", "secondary");
    expect(reply).toMatchObject({ ok: false, reason: "Invalid" });
    expect(reply.message).toMatch(/spec\.domain\.devices\.interfaces/);
    expect((await stored("twice")).generation).toBe(1);
  });

  it("answers NOT_FOUND for a VMI that does not exist, CONFLICT for one not running", async () => {
    await expect(add("nobody", "x")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await request(
      nc,
      API_SUBJECTS.apply,
      ApplyRequest,
      { manifestJson: JSON.stringify(vmiDoc((d) => (d.metadata.name = "idle"))) },
      ApplyReply,
    );
    await expect(add("idle", "x")).rejects.toMatchObject({ code: "CONFLICT" });
  });
});

describe("removeinterface", () => {
  it("stores the VMI without the interface as its next generation", async () => {
    await running("shrinks", 3);
    const reply = await remove("shrinks", "secondary");
    expect(reply).toMatchObject({ ok: true });
    expect(await stored("shrinks")).toEqual({ generation: 2, interfaces: ["default"] });
  });

  it("answers NOT_FOUND for an interface the VMI does not have", async () => {
    await running("lacks", 3);
    await expect(remove("lacks", "nonesuch")).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await stored("lacks")).generation).toBe(1);
  });
});

describe("freeSlots", () => {
  it("is the reported free count less the interfaces not attached yet", () => {
    const vmi = vmiDoc((d) => d.spec.domain.devices.interfaces.push({ name: "c", bridge: {} }));
    const status = VmiStatus.create({
      capacity: { free: 3 },
      interfaces: [{ name: "default", state: InterfaceState.INTERFACE_STATE_ATTACHED }],
    });
    // secondary and c are on their way.
    expect(freeSlots(status, vmi)).toBe(1);
  });
});
