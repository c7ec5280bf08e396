// How soon a command starts depends on what it loads: --help nothing but
// commander; get vmi the NATS core client and the protobuf runtime, not
// JetStream, micro services, pino, the schema validator or YAML. Read from
// the CommonJS modules (every library here is one) the bin has loaded when it exits.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@headroom/testing";
import { afterAll, describe, expect, it } from "vitest";
import { bin, repoRoot } from "./run.ts";

const dir = mkdtempSync(join(tmpdir(), "headroom-cli-startup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The libraries `headroom ...args` loaded, as node_modules package names. */
function librariesLoadedBy(args: string[]): string[] {
  const report = join(dir, "loaded.json");
  const preload = join(dir, "report.cjs");
  writeFileSync(
    preload,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(report)}, JSON.stringify(Object.keys(require.cache))));\n`,
  );
  spawnSync(process.execPath, ["--require", preload, bin, ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 30_000,
  });
  const paths = JSON.parse(readFileSync(report, "utf8")) as string[];
  const names = paths.map((path) => /node_modules\/((@[^/]+\/)?[^/]+)\//.exec(path)?.[1]);
  return [...new Set(names.filter((name) => name !== undefined))].sort();
}

describe("what a command loads", () => {
  it("--help: commander only", () => {
    expect(librariesLoadedBy(["--help"])).toEqual(["commander"]);
  });

  it("get vmi: the NATS core client and protobuf, nothing for JetStream, logs, schemas or YAML", async () => {
    const loaded = librariesLoadedBy([
      "get",
      "vmi",
      "--server",
      `nats://127.0.0.1:${await freePort()}`,
    ]);
    expect(loaded).toContain("@nats-io/nats-core");
    expect(loaded).toContain("protobufjs");
    for (const heavy of [
      "@nats-io/jetstream",
      "@nats-io/kv",
      "@nats-io/services",
      "pino",
      "ajv",
      "yaml",
    ]) {
      expect(loaded, heavy).not.toContain(heavy);
    }
  });
});
