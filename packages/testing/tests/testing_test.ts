import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { Socket } from "node:net";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ensureLibvirtd, repoRoot, startNats, startService } from "../src/mod.ts";

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

describe("startNats", () => {
  it("starts a JetStream server on a free port, restarts it in place, and stops it", async () => {
    const nats = await startNats({ jetstream: true });
    try {
      expect(nats.url).toBe(`nats://127.0.0.1:${nats.port}`);
      expect(await connects(nats.port)).toBe(true);
      expect(nats.logs()).toContain("Starting JetStream");
      await nats.restart();
      expect(await connects(nats.port)).toBe(true);
      expect(existsSync(nats.storeDir)).toBe(true);
    } finally {
      await nats.stop();
    }
    expect(await connects(nats.port)).toBe(false);
    expect(existsSync(nats.storeDir)).toBe(false);
  });

  it("runs two servers side by side", async () => {
    const [a, b] = await Promise.all([startNats(), startNats({ jetstream: false })]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(b.logs()).not.toContain("Starting JetStream");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe("infra/nats/headroom.conf", () => {
  it("starts with JetStream, a 2 MB max_payload and authentication", async () => {
    // Users' public keys (NKEYs, made for this test; no seed is needed to start).
    const keys = {
      HEADROOM_NATS_NKEY_VALIDATOR: "UCFSRUJQWR67Z4CZJDZCG5VQCAI7WKZSDTQUVS47NHKKUF3GBLCM6NFY",
      HEADROOM_NATS_NKEY_COMPOSER: "UAY2OMSOSZ2N3ZZM5MIWR5M44VZJS6NFNPG5FUEOPGZCR2T5665CRH42",
      HEADROOM_NATS_NKEY_LAUNCHER: "UDQJYLNWH6HAOTTTTTAOHRN2MJBYL3CW2OI4QB3F6G3QLEGEFJRWFG4J",
      HEADROOM_NATS_NKEY_CLIENT: "UACZDSCGLR2NFNBJO3W6QDXA6ABTF452FLLWSYQBTCBTMV2XN36OBS5O",
    };
    const nats = await startNats({ configFile: "infra/nats/headroom.conf", env: keys });
    try {
      expect(nats.logs()).toContain("Starting JetStream");
      expect(nats.logs()).toContain(nats.storeDir);
      const info = await new Promise<string>((resolve, reject) => {
        const socket = new Socket();
        socket.once("data", (chunk: Buffer) => {
          socket.destroy();
          resolve(chunk.toString());
        });
        socket.once("error", reject);
        socket.connect(nats.port, "127.0.0.1");
      });
      const greeting = JSON.parse(info.slice("INFO ".length));
      expect(greeting.max_payload).toBe(2 * 1024 * 1024);
      expect(greeting.jetstream).toBe(true);
      expect(greeting.server_name).toBe("headroom");
      expect(greeting.auth_required).toBe(true);
    } finally {
      await nats.stop();
    }
  });

  it("refuses to start without the public keys it names", async () => {
    await expect(startNats({ configFile: "infra/nats/headroom.conf" })).rejects.toThrow(
      /HEADROOM_NATS_NKEY_VALIDATOR/,
    );
  });
});

describe("startService", () => {
  it("runs a TypeScript entrypoint with extra env, captures its logs and stops it", async () => {
    const service = startService("packages/testing/tests/fixtures/sleeper.ts", {
      SLEEPER_GREETING: "hello",
    });
    await service.waitForLog("sleeper ready with hello");
    expect(await service.stop()).toBe(0);
    expect(service.logs()).toContain("sleeper stopping");
  });

  it("rejects waitForLog when the process dies first", async () => {
    const service = startService("packages/testing/tests/fixtures/does-not-exist.ts");
    await expect(service.waitForLog("never")).rejects.toThrow(/exited before logging/);
  });
});

describe("ensureLibvirtd", () => {
  it("leaves qemu:///system answering", async () => {
    await ensureLibvirtd();
    const { stdout } = await promisify(execFile)("virsh", ["-c", "qemu:///system", "version"]);
    expect(stdout).toContain("libvirt");
  });
});

describe("repoRoot", () => {
  it("finds the workspace root", () => {
    expect(existsSync(`${repoRoot()}/packages/testing/package.json`)).toBe(true);
  });
});
