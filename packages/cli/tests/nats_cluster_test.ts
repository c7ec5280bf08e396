// headroom on a 3-server NATS cluster (infra/nats/cluster.conf, the shipped
// users and permissions): every stream and bucket is kept on 3 servers, the
// services and the CLI are given every server's URL, and SIGKILLing one
// server in the middle of 30 applies loses nothing: all 30 run, once each,
// with one reserved event each.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, STREAMS, toJetStream } from "@headroom/bus";
import { CapacityEventType } from "@headroom/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { useCliStack } from "./cli_stack.ts";
import { headroom } from "./run.ts";

const VMIS = 30;
const KILL_AFTER = 10;
const handle = useCliStack({ namespace: "cli-cluster", natsServers: 3 });
let files: string;

beforeAll(async () => {
  files = await mkdtemp(join(tmpdir(), "headroom-cluster-"));
});

afterAll(async () => {
  if (files) await rm(files, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: VMIs as get -o json prints them
async function vmis(): Promise<any[]> {
  const run = await headroom([...handle.cli, "get", "vmi", "-o", "json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout).items;
}

describe("a 3-server NATS cluster", () => {
  it("keeps every stream and bucket on 3 servers", async () => {
    // As the validator, which may look at every stream headroom makes.
    const { stack } = handle;
    const nc = await connect({
      name: "cluster-test",
      servers: stack.natsUrl.split(","),
      user: "validator",
      seed: stack.credentials?.validator ?? "",
    });
    try {
      const jsm = await toJetStream(nc).jetstreamManager();
      for (const name of [
        STREAMS.pipeline,
        STREAMS.capacity,
        STREAMS.hostWork,
        "KV_headroom-vmis",
        "KV_headroom-status",
        "KV_headroom-networks",
        "KV_headroom-hosts",
        "KV_headroom-placements",
        "OBJ_headroom-images",
      ]) {
        const info = await jsm.streams.info(name);
        expect(info.config.num_replicas, name).toBe(3);
        expect(info.cluster?.replicas?.length, name).toBe(2);
      }
    } finally {
      await nc.close();
    }
  });

  it("loses nothing when one server is killed in the middle of 30 applies", async () => {
    const { stack } = handle;
    const killed = stack.natsServers[0];
    for (let i = 0; i < VMIS; i++) {
      if (i === KILL_AFTER) await killed?.kill();
      const vmi = await stack.seedManifest(`vm-${i}`);
      vmi.spec.domain.memory.guest = "64Mi";
      const file = join(files, `vm-${i}.yaml`);
      await writeFile(file, stringify(vmi));
      const applied = await headroom([...handle.cli, "apply", "-f", file]);
      expect(applied.code, `vm-${i}: ${applied.stderr}`).toBe(0);
    }

    const deadline = Date.now() + 8 * 60_000;
    let items = await vmis();
    while (items.filter((vmi) => vmi.status?.phase === "Running").length < VMIS) {
      const failed = items.find((vmi) => vmi.status?.phase === "Failed");
      expect(failed?.status, failed?.metadata?.name).toBeUndefined();
      if (Date.now() > deadline)
        throw new Error(
          `not all Running: ${items.map((vmi) => `${vmi.metadata.name}=${vmi.status?.phase}`)}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 2000));
      items = await vmis();
    }
    expect(items).toHaveLength(VMIS);

    // Once each: one domain, and one reserved event, per VMI.
    const domains = await stack.domains();
    expect(domains.sort()).toEqual(
      Array.from({ length: VMIS }, (_, i) => `${stack.namespace}_vm-${i}`).sort(),
    );
    const events = await stack.capacityEventsByName();
    for (let i = 0; i < VMIS; i++) {
      const reserved = (events.get(`vm-${i}`) ?? []).filter(
        (event) => event.type === CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
      );
      expect(reserved, `vm-${i}`).toHaveLength(1);
    }
    expect(stack.violations()).toEqual([]);
  });
});
