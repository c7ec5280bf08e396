import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Connection, type Domain } from "../src/mod.ts";
import { DomainJanitor, domainXml, uniqueName } from "./helpers.ts";

const janitor = new DomainJanitor();
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.open();
});

afterAll(async () => {
  await janitor.cleanUp();
  await connection?.close();
});

/** Runs `work` while a 5 ms interval timer measures how late it fires. */
async function measureTimerLateness<T>(
  work: () => Promise<T>,
): Promise<{ result: T; ticks: number; maxGapMs: number; elapsedMs: number }> {
  const intervalMs = 5;
  let last = performance.now();
  let maxGapMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, intervalMs);
  const start = performance.now();
  try {
    const result = await work();
    const end = performance.now();
    maxGapMs = Math.max(maxGapMs, end - last);
    return { result, ticks, maxGapMs, elapsedMs: end - start };
  } finally {
    clearInterval(timer);
  }
}

describe("calls off the JavaScript thread", () => {
  it("completes 200 concurrent calls while a timer keeps firing on schedule", async () => {
    // Half the calls define domains (libvirtd writes their XML to disk), so the
    // batch takes long enough that a blocked event loop would show.
    const names = Array.from({ length: 100 }, () => janitor.track(uniqueName("concurrent")));
    try {
      const reads: (() => Promise<unknown>)[] = [
        () => connection.getCapabilities(),
        () => connection.getDomainCapabilities({ virttype: "qemu" }),
        () => connection.listDomainNames(),
        () => connection.getLibVersion(),
      ];
      const batch = await measureTimerLateness(() =>
        Promise.all([
          ...names.map((name) => connection.defineXml(domainXml(name))),
          ...names.map((_, i) => (reads[i % reads.length] as () => Promise<unknown>)()),
        ]),
      );
      const defined = batch.result.slice(0, 100) as Domain[];
      expect(defined.map((domain) => domain.name)).toEqual(names);
      batch.result.slice(100).forEach((value, i) => {
        if (i % reads.length === 0) expect(value).toMatch(/^<capabilities>/);
        if (i % reads.length === 1) expect(value).toMatch(/^<domainCapabilities>/);
        if (i % reads.length === 2) expect(value).toBeInstanceOf(Array);
        if (i % reads.length === 3) expect(value).toBeGreaterThanOrEqual(9_000_000);
      });

      const cleanup = await measureTimerLateness(() =>
        Promise.all(defined.map((domain) => domain.undefine())),
      );
      expect(await connection.findDomain(names[0] as string)).toBeUndefined();

      for (const [label, run] of [
        ["200 mixed calls", batch],
        ["100 undefines", cleanup],
      ] as const) {
        console.log(
          `${label}: ${run.elapsedMs.toFixed(0)} ms, timer ticks ${run.ticks}, max timer gap ${run.maxGapMs.toFixed(1)} ms`,
        );
        expect(run.maxGapMs).toBeLessThan(200);
        // Small against the whole run: a loop blocked by the calls would show a gap close to it.
        expect(run.maxGapMs).toBeLessThan(Math.max(run.elapsedMs / 2, 100));
      }
    } finally {
      await janitor.cleanUp();
    }
  });
});
