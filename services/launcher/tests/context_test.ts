// The launcher's reads of state over a real nats-server under the shipped
// permissions: an entry that does not decode never turns a valid plan into
// garbage (which would drop it for good).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connect,
  createLogger,
  DecodeError,
  ensureBuckets,
  ensureCredentials,
  ensureImageObjects,
  ensureStreams,
  type NatsConnection,
  serverEnv,
  storeKey,
} from "@headroom/bus";
import { type NatsServer, startNats } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LauncherContext, launcherContext } from "../src/context.ts";

let secrets = "";
let nats: NatsServer;
let launcher: NatsConnection;
let validator: NatsConnection;
let ctx: LauncherContext;

beforeAll(async () => {
  secrets = await mkdtemp(join(tmpdir(), "headroom-context-"));
  const credentials = await ensureCredentials(join(secrets, "secrets"));
  nats = await startNats({ configFile: "infra/nats/headroom.conf", env: serverEnv(credentials) });
  const login = (user: "launcher" | "validator") =>
    connect({ name: `context-${user}`, servers: nats.url, user, seed: credentials[user] });
  launcher = await login("launcher");
  validator = await login("validator");
  await ensureStreams(launcher);
  const buckets = await ensureBuckets(launcher);
  const log = createLogger("context-test", { level: "silent" });
  const imageObjects = await ensureImageObjects(launcher);
  ctx = launcherContext(launcher, {} as never, buckets, imageObjects, { log, virtType: "qemu" });
}, 60_000);

afterAll(async () => {
  await launcher?.close();
  await validator?.close();
  await nats?.stop();
  if (secrets) await rm(secrets, { recursive: true, force: true });
});

describe("the launcher's reads", () => {
  it("take an unreadable status as no status, so the plan goes on", async () => {
    const key = storeKey("context", "garbled-status");
    await ctx.buckets.status.put(key, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(await ctx.readStatus(key)).toBeNull();
  });

  it("make an unreadable stored VMI a retryable error, never a DecodeError", async () => {
    const key = storeKey("context", "garbled-vmi");
    const vmis = (await ensureBuckets(validator)).vmis;
    await vmis.put(key, Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    const error = await ctx.readStored(key).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(DecodeError);
    expect(String(error)).toContain(`the stored VMI ${key} is unreadable`);
  });
});
