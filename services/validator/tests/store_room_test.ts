// A VMI bucket near its byte limit: new and changed VMIs are refused with a
// clear error, while deleting (which needs room for a marker) still works.
import {
  API_SUBJECTS,
  ApiError,
  connect,
  createLogger,
  encode,
  ensureBuckets,
  type NatsConnection,
  request,
  storeKey,
} from "@headroom/bus";
import { ApplyReply, ApplyRequest, DeleteReply, DeleteRequest, VmiAccepted } from "@headroom/proto";
import { type NatsServer, startNats } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startValidator, type Validator } from "../src/mod.ts";
import { vmiDoc } from "./fixtures.ts";

let nats: NatsServer;
let nc: NatsConnection;
let validator: Validator;

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  nc = await connect({ name: "store-room-test", servers: nats.url });
  const { vmis } = await ensureBuckets(nc);
  const record = {
    namespace: "default",
    name: "old",
    uid: "uid-old",
    generation: 1,
    manifestJson: "{}",
  };
  await vmis.put(storeKey("default", "old"), encode(VmiAccepted, record));
  // Any byte counts as "full" here: the check, not the 384 MiB, is under test.
  validator = await startValidator(nc, {
    log: createLogger("validator", { level: "silent" }),
    storeFullFraction: 0,
  });
});

afterAll(async () => {
  await validator?.stop();
  await nc?.close();
  await nats?.stop();
});

describe("a full VMI store", () => {
  it("refuses a new VMI, saying what to do, and stores nothing", async () => {
    const manifestJson = JSON.stringify(vmiDoc((doc) => (doc.metadata.name = "new")));
    const asked = request(nc, API_SUBJECTS.apply, ApplyRequest, { manifestJson }, ApplyReply);
    await expect(asked).rejects.toThrow(ApiError);
    await expect(asked).rejects.toThrow(/the VMI store is full \(\d+ of \d+ bytes\): delete VMIs/);
    const { vmis } = await ensureBuckets(nc);
    expect(await vmis.get(storeKey("default", "new"))).toBeNull();
  });

  it("still answers a dry run, and still deletes", async () => {
    const manifestJson = JSON.stringify(vmiDoc((doc) => (doc.metadata.name = "new")));
    const dry = await request(
      nc,
      API_SUBJECTS.apply,
      ApplyRequest,
      { manifestJson, dryRun: true },
      ApplyReply,
    );
    expect(dry.accepted?.dryRun).toBe(true);
    const deleted = await request(
      nc,
      API_SUBJECTS.delete,
      DeleteRequest,
      { namespace: "default", name: "old" },
      DeleteReply,
    );
    expect(deleted.deleted).toBe(true);
  });
});
