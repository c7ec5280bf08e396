// get nodes and describe node against a real nats-server (the shipped
// permissions), the three services and a real libvirtd: the launcher keeps its
// host's record fresh, and a launcher that stops or dies leaves its host
// NotReady, saying why.
import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { Phase } from "@headroom/proto";
import { repoRoot } from "@headroom/testing";
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { headroom } from "./run.ts";

const NODE = "hv-node-test";
const HEARTBEAT_MS = 500;
const handle = useCliStack({
  namespace: "cli-nodes",
  env: {
    HEADROOM_NODE_NAME: NODE,
    HEADROOM_NODE_LABELS: "disktype=ssd,zone=a",
    HEADROOM_HEARTBEAT_MS: String(HEARTBEAT_MS),
  },
});

// biome-ignore lint/suspicious/noExplicitAny: a node as -o json prints it
async function nodeJson(): Promise<any> {
  const run = await headroom([...handle.cli, "get", "node", NODE, "-o", "json"]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

/** Polls `get node -o json` until `check` holds (a few heartbeats at most). */
// biome-ignore lint/suspicious/noExplicitAny: see nodeJson
async function nodeUntil(check: (node: any) => boolean, what: string): Promise<any> {
  const deadline = Date.now() + 20 * HEARTBEAT_MS + 10_000;
  for (;;) {
    const node = await nodeJson();
    if (check(node)) return node;
    if (Date.now() > deadline) throw new Error(`node never ${what}: ${JSON.stringify(node)}`);
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS));
  }
}

describe("headroom get nodes / describe node", () => {
  it("shows the launcher's host: Ready, its labels, CPUs, memory, TCG, versions, machine types", async () => {
    const table = await headroom([...handle.cli, "get", "nodes"]);
    expect(table.code, table.stderr).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header?.split(/ +/)).toEqual(["NAME", "STATUS", "VMS", "CPUS", "MEMORY", "VIRT", "AGE"]);
    const row = rows.find((line) => line.startsWith(`${NODE} `))?.split(/ +/);
    expect(row?.slice(0, 2)).toEqual([NODE, "Ready"]);
    expect(row?.[3]).toBe(String(availableParallelism()));
    expect(row?.[4]).toMatch(/^[\d.]+[KMG]iB\/[\d.]+GiB$/);
    expect(row?.[5]).toBe("TCG");

    const node = await nodeJson();
    expect(node).toMatchObject({
      name: NODE,
      status: "Ready",
      reason: "",
      labels: {
        disktype: "ssd",
        zone: "a",
        "kubernetes.io/hostname": NODE,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
      },
      cpus: availableParallelism(),
      virtType: "qemu",
      arch: "x86_64",
      heartbeatSeconds: HEARTBEAT_MS / 1000,
    });
    expect(node.memoryFreeBytes).toBeGreaterThan(0);
    expect(node.memoryFreeBytes).toBeLessThanOrEqual(node.memoryBytes);
    expect(node.machineTypes.slice(0, 2)).toEqual(["pc", "q35"]);
    expect(node.libvirtVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(node.qemuVersion).toMatch(/^\d+\.\d+\.\d+$/);
    // The stack's tiny guest, put into the store and fetched by no plan yet, or held.
    expect(Array.isArray(node.images)).toBe(true);

    const described = await headroom([...handle.cli, "describe", "node", NODE]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(new RegExp(`^Name: +${NODE}\\nStatus: +Ready\\n`));
    expect(described.stdout).toMatch(/\nLabels: +disktype=ssd\n +kubernetes\.io\/arch=amd64\n/);
    expect(described.stdout).toMatch(/\nVirt type: +TCG\n/);
    expect(described.stdout).toMatch(/\nMachine types: +pc, q35, /);
  });

  it("selects nodes by label, and says when none matches", async () => {
    const ssd = await headroom([...handle.cli, "get", "nodes", "-l", "disktype=ssd", "-o", "json"]);
    expect(JSON.parse(ssd.stdout).items.map((n: { name: string }) => n.name)).toContain(NODE);
    const hdd = await headroom([...handle.cli, "get", "nodes", "-l", "disktype=hdd"]);
    expect(hdd.code).toBe(0);
    expect(hdd.stdout).toBe("");
    expect(hdd.stderr).toContain("No nodes found");
    const bad = await headroom([...handle.cli, "get", "nodes", "-l", "a in (b"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unbalanced parentheses");
  });

  it("counts the VMs running on the host", async () => {
    const { stack } = handle;
    const before = (await nodeJson()).vmsRunning;
    const applied = await stack.apply(await stack.seedManifest("counted"));
    expect(applied.accepted, JSON.stringify(applied)).toBeTruthy();
    expect((await stack.settled("counted")).status?.phase).toBe(Phase.PHASE_RUNNING);
    await nodeUntil((node) => node.vmsRunning === before + 1, `counted ${before + 1} VMs`);
    await stack.delete("counted");
    await nodeUntil((node) => node.vmsRunning === before, `counted ${before} VMs again`);
  });

  it("turns NotReady when its launcher stops or dies, and Ready when one starts again", async () => {
    const { stack } = handle;
    await stack.service("launcher").stop();
    const stopped = await nodeUntil((node) => node.status === "NotReady", "turned NotReady");
    expect(stopped.reason).toBe("its launcher stopped");
    await stack.start("launcher");
    await nodeUntil((node) => node.status === "Ready", "turned Ready after a start");

    await stack.kill("launcher");
    const dead = await nodeUntil((node) => node.status === "NotReady", "turned NotReady");
    expect(dead.reason).toMatch(/^no heartbeat for \d+ s \(expected every 0\.5 s\)$/);
    const table = await headroom([...handle.cli, "get", "nodes", "-o", "wide"]);
    expect(table.stdout).toMatch(new RegExp(`\\n${NODE} +NotReady +`));
    await stack.start("launcher");
    await nodeUntil((node) => node.status === "Ready", "turned Ready after a restart");
  });

  it("names a node it does not know, and refuses to delete one", async () => {
    const missing = await headroom([...handle.cli, "describe", "node", "no-such-host"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("node/no-such-host not found");
    const deleted = await headroom([...handle.cli, "delete", "node", NODE]);
    expect(deleted.code).toBe(1);
    expect(deleted.stderr).toContain("stop that launcher");
  });

  it("refuses a launcher with a bad node name or label before it touches anything", async () => {
    const run = promisify(execFile);
    const launcher = [
      "--conditions=headroom:source",
      "--import",
      "tsx",
      "services/launcher/src/main.ts",
    ];
    for (const [flags, message] of [
      [["--node", "HV_1"], 'node name "HV_1" must be 1 to 63 lowercase letters'],
      [["--label", "zone"], 'label "zone" is not key=value'],
    ] as const) {
      const error = await run(process.execPath, [...launcher, ...flags], {
        cwd: repoRoot(),
        env: { ...process.env, HEADROOM_NATS_URL: "nats://127.0.0.1:1" },
      }).then(
        () => undefined,
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(error?.code).toBe(2);
      expect(error?.stderr).toContain(`headroom-launcher: ${message}`);
    }
    const help = await run(process.execPath, [...launcher, "--help"], { cwd: repoRoot() });
    expect(help.stdout).toContain("Usage: headroom-launcher [--node NAME] [--label key=value]");
  });
});
