import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CloseReason, Connection, ErrorCode, LibvirtError } from "../src/mod.ts";
import { PREFIX } from "./helpers.ts";
import { startPrivateDaemon } from "./private_daemon.ts";

function closeReason(connection: Connection): Promise<CloseReason> {
  return new Promise((resolve) => {
    connection.onClose(resolve);
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms),
    ),
  ]);
}

describe("a libvirtd that is absent, stalls or goes away", () => {
  it("fails to open against a socket where nothing listens, with a clear LibvirtError", async () => {
    const dir = mkdtempSync(join(tmpdir(), PREFIX));
    try {
      const uri = `qemu+unix:///system?socket=${join(dir, "libvirt-sock")}`;
      const failure = await Connection.open(uri).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(LibvirtError);
      const error = failure as LibvirtError;
      expect(error.code).toBe(ErrorCode.SYSTEM_ERROR);
      expect(error.message).toContain(`cannot open a libvirt connection to ${uri}`);
      expect(error.message).toMatch(
        /Failed to connect socket to '.*libvirt-sock': No such file or directory/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fires the close callback when libvirtd is terminated", async () => {
    const daemon = await startPrivateDaemon();
    try {
      const connection = await Connection.open(daemon.uri);
      expect(await connection.isAlive()).toBe(true);
      expect(await connection.listDomainNames()).toEqual([]);
      const closed = closeReason(connection);

      daemon.signal("SIGTERM");
      const reason = await within(closed, 30_000, "the close callback");
      expect(["eof", "error"]).toContain(reason);
      expect(await connection.isAlive()).toBe(false);
      await expect(connection.listDomainNames()).rejects.toBeInstanceOf(LibvirtError);
      await connection.close();
      await connection.close();
    } finally {
      await daemon.remove();
    }
  });

  it("keeps the event loop running while libvirtd stalls, until keepalive gives up on it", async () => {
    const daemon = await startPrivateDaemon();
    try {
      const connection = await Connection.open(daemon.uri, {
        keepaliveIntervalSec: 1,
        keepaliveCount: 2,
      });
      const closed = closeReason(connection);
      daemon.signal("SIGSTOP");

      const started = performance.now();
      const stalled = connection.listDomainNames().then(
        () => "answered",
        (error: unknown) => error,
      );
      let last = performance.now();
      let maxGapMs = 0;
      let ticks = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGapMs = Math.max(maxGapMs, now - last);
        last = now;
        ticks++;
      }, 10);
      try {
        const reason = await within(closed, 30_000, "the keepalive close");
        expect(reason).toBe("keepalive");
        const outcome = await within(stalled, 5_000, "the stalled call's end");
        expect(outcome).toBeInstanceOf(LibvirtError);
      } finally {
        clearInterval(timer);
      }
      const elapsedMs = performance.now() - started;
      console.log(
        `stalled libvirtd: noticed after ${elapsedMs.toFixed(0)} ms; timer ticks ${ticks}, max gap ${maxGapMs.toFixed(1)} ms`,
      );
      expect(elapsedMs).toBeGreaterThan(1_000);
      expect(maxGapMs).toBeLessThan(200);
      expect(ticks).toBeGreaterThan(elapsedMs / 10 / 4);
      await connection.close();
    } finally {
      await daemon.remove();
    }
  });
});
