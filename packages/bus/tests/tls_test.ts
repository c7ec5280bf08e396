// infra/nats/tls.conf: the same users and permissions, TLS only. connect()
// takes the CA from HEADROOM_NATS_TLS_CA, as every service and the CLI do.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificates, type NatsServer, startNats } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, generateCredentials, serverEnv } from "../src/mod.ts";

const credentials = generateCredentials();
let dir = "";
let nats: NatsServer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-tls-"));
  await makeCertificates(dir);
  nats = await startNats({
    configFile: "infra/nats/tls.conf",
    env: {
      ...serverEnv(credentials),
      HEADROOM_NATS_TLS_SERVER_CERT: join(dir, "server.pem"),
      HEADROOM_NATS_TLS_SERVER_KEY: join(dir, "server-key.pem"),
    },
  });
}, 60_000);

afterAll(async () => {
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const login = (ca?: string) => ({
  HEADROOM_NATS_URL: nats.url,
  HEADROOM_NATS_USER: "client",
  HEADROOM_NATS_SEED: credentials.client,
  ...(ca ? { HEADROOM_NATS_TLS_CA: ca } : {}),
});

describe("infra/nats/tls.conf", () => {
  it("lets a client in over TLS with the CA, still as its user with its permissions", async () => {
    const nc = await connect({ name: "tls-client", env: login(join(dir, "ca.pem")) });
    try {
      expect(nc.info?.tls_required).toBe(true);
      await expect(nc.request("headroom.pipeline.accepted.x.y", "forged")).rejects.toThrow(
        /permissions violation/i,
      );
    } finally {
      await nc.close();
    }
  });

  it("refuses a client without TLS, and one that does not trust the server's CA", async () => {
    await expect(connect({ name: "plain", env: login() })).rejects.toThrow();
    await expect(
      connect({ name: "wrong-ca", env: login(join(dir, "other-ca.pem")) }),
    ).rejects.toThrow();
  });
});
