// headroom on 3 hosts and a 3-server NATS cluster (infra/nats/cluster.conf,
// the shipped users and permissions): every stream and bucket is kept on 3
// servers, the services and the CLI are given every server's URL, and
// SIGKILLing one server in the middle of 30 applies loses nothing: all 30 run,
// once each, on one host each, with one reserved event each. Then every
// guest reports its NICs, and a hot-plug past its capacity is refused by the
// launcher of its own host.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connect, STREAMS, toJetStream } from "@headroom/bus";
import { CapacityEventType } from "@headroom/proto";
import type { ServiceProcess } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { useCliStack } from "./cli_stack.ts";
import { headroom, plugToCapacity } from "./run.ts";

const NS = "cli-cluster";
const VMIS = 30;
const KILL_AFTER = 10;
const HOSTS = ["hv-1", "hv-2", "hv-3"];
// The guests look at their PCI bus every 2 s, not 0.2 s: 30 TCG guests
// polling five times a second would take this machine's two cores.
const KERNEL_ARGS = "console=ttyS0 quiet panic=-1 headroom.poll=2";
// A guest that printed nothing of its own by then is reset once (see below).
const RESET_SILENT_AFTER_MS = 3 * 60_000;
const execFileAsync = promisify(execFile);

function hostEnv(node: string): Record<string, string> {
  return { HEADROOM_NODE_NAME: node, HEADROOM_HEARTBEAT_MS: "1000" };
}

const handle = useCliStack({ namespace: NS, natsServers: 3, env: hostEnv("hv-1") });
const launchers = new Map<string, ServiceProcess>();
let files: string;

beforeAll(async () => {
  files = await mkdtemp(join(tmpdir(), "headroom-cluster-"));
  launchers.set("hv-1", handle.stack.service("launcher"));
  for (const node of HOSTS.slice(1))
    launchers.set(node, await handle.stack.start("launcher", hostEnv(node)));
}, 120_000);

afterAll(async () => {
  if (files) await rm(files, { recursive: true, force: true });
});

// biome-ignore lint/suspicious/noExplicitAny: VMIs as get -o json prints them
async function vmis(): Promise<any[]> {
  const run = await headroom([...handle.cli, "get", "vmi", "-o", "json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout).items;
}

/** Waits up to 60 s for `done`. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting on ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The hosts whose launcher logged a line about this VMI that holds `text`. */
function hostsThatLogged(name: string, text: string): string[] {
  const line = new RegExp(`"vmi":"${NS}/${name}"[^\\n]*${text}`);
  return [...launchers].filter(([, child]) => line.test(child.logs())).map(([node]) => node);
}

describe("3 hosts on a 3-server NATS cluster", () => {
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
      // Room for 2 interfaces, both defined: what is free is what libvirt added.
      const vmi = await stack.seedManifest(`vm-${i}`, { request: 2 });
      vmi.spec.domain.firmware.kernelBoot.kernelArgs = KERNEL_ARGS;
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

    // Once each: one domain, on the one host the VMI was placed on, and one
    // reserved event, per VMI.
    const domains = await stack.domains();
    expect(domains.sort()).toEqual(Array.from({ length: VMIS }, (_, i) => `${NS}_vm-${i}`).sort());
    const perHost = new Map<string, number>();
    for (const vmi of items) {
      const node = vmi.status?.node;
      expect(HOSTS, vmi.metadata.name).toContain(node);
      // Logged when the launcher started the domain, before the status the loop
      // above saw (a launcher that lost a write's answer to an election and
      // finished on a redelivery does not log its "running" line again).
      const ran = () => hostsThatLogged(vmi.metadata.name, '"msg":"domain running"');
      await until(() => ran().length > 0, vmi.metadata.name);
      expect(ran()).toEqual([node]);
      perHost.set(node, (perHost.get(node) ?? 0) + 1);
    }
    console.log(
      `${VMIS} VMIs over ${HOSTS.length} hosts: ${JSON.stringify(Object.fromEntries(perHost))}`,
    );
    for (const count of perHost.values()) expect(count).toBeLessThanOrEqual(15);
    const events = await stack.capacityEventsByName();
    for (let i = 0; i < VMIS; i++) {
      const reserved = (events.get(`vm-${i}`) ?? []).filter(
        (event) => event.type === CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
      );
      expect(reserved, `vm-${i}`).toHaveLength(1);
    }
    expect(stack.violations()).toEqual([]);
  }, 600_000);

  it("on each host, every guest sees its NICs and a hot-plug past its capacity is refused there", async () => {
    // Each guest's console (the file QEMU writes), until it shows its 2 NICs.
    const sees2 = /^headroom-guest: nics=2 /m;
    const waiting = new Set(Array.from({ length: VMIS }, (_, i) => `vm-${i}`));
    const deadline = Date.now() + 6 * 60_000;
    const consoles = new Map<string, string>();
    const reset = new Set<string>();
    const started = Date.now();
    while (waiting.size > 0) {
      if (Date.now() > deadline) {
        // What each silent guest printed last, and what its launcher said of it.
        const tails = [...waiting].map((name) => {
          const lines = (consoles.get(name) ?? "").trimEnd().split("\n").slice(-5).join(" | ");
          const said = [...launchers.values()]
            .flatMap((child) => child.logs().split("\n"))
            .filter((line) => line.includes(`"vmi":"${NS}/${name}"`))
            .map((line) => JSON.parse(line).msg);
          const wasReset = reset.has(name) ? " (reset once)" : "";
          return `${name}${wasReset}: console ${JSON.stringify(lines)}; launcher ${JSON.stringify(said)}`;
        });
        throw new Error(`no NICs reported by ${[...waiting]}\n${tails.join("\n")}`);
      }
      for (const name of waiting) {
        const text = await readFile(handle.stack.state.consoleLog(NS, name), "utf8").catch(
          () => "",
        );
        consoles.set(name, text);
        if (sees2.test(text)) waiting.delete(name);
      }
      // Once in CI one guest of 30 never reported (its console was not kept).
      // A guest that has printed nothing of its own by now never reached the
      // look at its NICs (its boot stuck on two cores shared by 30): it is
      // reset once, the same domain with the same devices, and must then
      // report them. Any other silence fails, showing what the guest printed.
      if (Date.now() - started > RESET_SILENT_AFTER_MS) {
        for (const name of waiting) {
          if (reset.has(name) || /headroom-guest:/.test(consoles.get(name) ?? "")) continue;
          reset.add(name);
          console.log(`${name} printed nothing in its first 3 minutes: reset once`);
          await execFileAsync("virsh", ["-c", "qemu:///system", "reset", `${NS}_${name}`]);
        }
      }
      if (waiting.size > 0) await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    // And as a user reads it, from the launcher of the VMI's host: one VMI of each.
    const items = await vmis();
    for (const node of HOSTS) {
      const name = items.find((item) => item.status?.node === node)?.metadata.name;
      const logs = await headroom([...handle.cli, "logs", name]);
      expect(logs.code, logs.stderr).toBe(0);
      expect(logs.stdout).toMatch(sees2);
    }

    // One host's VMIs at a time on each host, the three hosts at once.
    await Promise.all(
      HOSTS.map(async (node) => {
        for (const vmi of items.filter((item) => item.status?.node === node)) {
          const name = vmi.metadata.name;
          const free = vmi.status?.capacity?.free ?? 0;
          expect(free, name).toBeGreaterThanOrEqual(0);
          await plugToCapacity(handle.cli, name, "q35", free);
          // The host's launcher records the refusal (an "exhausted" event) once it reaches it.
          await until(() => hostsThatLogged(name, "has no free slot").length > 0, name);
          expect(hostsThatLogged(name, "has no free slot")).toEqual([node]);
        }
      }),
    );
    const events = await handle.stack.capacityEventsByName();
    for (let i = 0; i < VMIS; i++) {
      const exhausted = (events.get(`vm-${i}`) ?? []).filter(
        (event) => event.type === CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
      );
      expect(exhausted, `vm-${i}`).toHaveLength(1);
    }
    expect(handle.stack.violations()).toEqual([]);
  }, 900_000);
});
