import { freePort, startNats } from "@headroom/testing";
import { describe, expect, it } from "vitest";
import { connect } from "../src/mod.ts";

describe("connect", () => {
  it("reads HEADROOM_NATS_URL", async () => {
    const nats = await startNats({ jetstream: false });
    try {
      const nc = await connect({ name: "env-test", env: { HEADROOM_NATS_URL: nats.url } });
      expect(nc.getServer()).toBe(`127.0.0.1:${nats.port}`);
      await nc.close();
    } finally {
      await nats.stop();
    }
  });

  it("fails at once when no server answers, unless told to wait", async () => {
    const port = await freePort();
    await expect(
      connect({ name: "no-server", servers: `nats://127.0.0.1:${port}` }),
    ).rejects.toThrow();
  });

  it("waits for a server that comes up later", async () => {
    const nats = await startNats({ jetstream: false });
    const url = nats.url;
    await nats.stop();
    const pending = connect({ name: "patient", servers: url, waitForServer: true });
    // Same port, new server (startNats picks a free port; reuse it explicitly).
    const { spawn } = await import("node:child_process");
    const server = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(nats.port)], {
      stdio: "ignore",
    });
    try {
      const nc = await pending;
      const sub = nc.subscribe("ping.me", { max: 1 });
      await nc.flush();
      nc.publish("ping.me", "hello");
      for await (const msg of sub) expect(msg.string()).toBe("hello");
      await nc.close();
    } finally {
      server.kill("SIGKILL");
    }
  });

  it("names a TLS file it cannot read", async () => {
    await expect(
      connect({ name: "tls", env: { HEADROOM_NATS_TLS_CA: "/nonexistent/ca.pem" } }),
    ).rejects.toThrow(/HEADROOM_NATS_TLS_CA: cannot read \/nonexistent\/ca.pem/);
  });
});
