import { spawnSync } from "node:child_process";
import { repoRoot } from "@headroom/testing";
import { describe, expect, it } from "vitest";
import * as client from "../src/client.ts";
import * as bus from "../src/mod.ts";

describe("@headroom/bus/client", () => {
  it("exports the main entry's own functions and values", () => {
    const main = new Map(Object.entries(bus));
    for (const [name, value] of Object.entries(client)) expect(main.get(name), name).toBe(value);
  });

  it("loads the NATS core client but not JetStream, KV, micro services or pino", () => {
    // A fresh process: which CommonJS modules importing the entry loads.
    const script = `
      import { createRequire } from "node:module";
      await import("@headroom/bus/client");
      console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`;
    const run = spawnSync(
      process.execPath,
      ["--conditions=headroom:source", "--import", "tsx", "--input-type=module", "-e", script],
      { cwd: repoRoot(), encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    const loaded = JSON.parse(run.stdout) as string[];
    expect(loaded.some((path) => path.includes("/@nats-io/nats-core/"))).toBe(true);
    const heavy = /\/(@nats-io\/(jetstream|kv|services)|pino)\//;
    expect(loaded.filter((path) => heavy.test(path))).toEqual([]);
  });
});
