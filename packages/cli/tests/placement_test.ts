// Placement across hosts, through the CLI under the shipped permissions: three
// launchers (hv-a, hv-b, hv-c, labelled zone=a/b/c) share this machine's
// libvirtd, each under its own node name, and every VMI's plan, deletion and
// describe reach only the launcher of the host the composer placed it on.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { domainNameOf } from "@headroom/host-state";
import { Phase } from "@headroom/proto";
import type { ServiceProcess } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { applyAndWait, headroom } from "./run.ts";

const NS = "cli-place";
const HEARTBEAT = { HEADROOM_HEARTBEAT_MS: "1000" };
const handle = useCliStack({
  namespace: NS,
  env: { HEADROOM_NODE_NAME: "hv-a", HEADROOM_NODE_LABELS: "zone=a", ...HEARTBEAT },
});
const launchers = new Map<string, ServiceProcess>();
let dir = "";

function hostEnv(node: string, labels: string): Record<string, string> {
  return { HEADROOM_NODE_NAME: node, HEADROOM_NODE_LABELS: labels, ...HEARTBEAT };
}

beforeAll(async () => {
  dir = await mkdtemp(`${tmpdir()}/headroom-placement-`);
  launchers.set("hv-a", handle.stack.service("launcher"));
  for (const [node, zone] of [
    ["hv-b", "b"],
    ["hv-c", "c"],
  ] as const) {
    launchers.set(node, await handle.stack.start("launcher", hostEnv(node, `zone=${zone}`)));
  }
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The launchers whose logs speak of this VMI's plan. */
function launchersThatRan(name: string): string[] {
  const mention = new RegExp(`"vmi":"${NS}/${name}"[^\\n]*"msg":"running; capacity reserved`);
  return [...launchers].filter(([, child]) => mention.test(child.logs())).map(([node]) => node);
}

async function seed(name: string, nodeSelector?: Record<string, string>) {
  const vmi = await handle.stack.seedManifest(name);
  if (nodeSelector) vmi.spec.nodeSelector = nodeSelector;
  return vmi;
}

describe("placement over three hosts", () => {
  it("spreads six VMIs two to a host; each runs on one host, which get vmi and describe show", async () => {
    const names = Array.from({ length: 6 }, (_, i) => `spread-${i}`);
    for (const name of names) {
      const run = await applyAndWait(handle.cli, dir, name, await seed(name));
      expect(run.code, run.stderr).toBe(0);
    }
    const perNode = new Map<string, number>();
    for (const name of names) {
      const record = await handle.stack.settled(name);
      expect(record.status?.phase).toBe(Phase.PHASE_RUNNING);
      const node = record.status?.node ?? "";
      perNode.set(node, (perNode.get(node) ?? 0) + 1);
      expect(launchersThatRan(name)).toEqual([node]);
      expect(await handle.stack.conn.findDomain(domainNameOf(NS, name))).toBeDefined();
    }
    expect(Object.fromEntries(perNode)).toEqual({ "hv-a": 2, "hv-b": 2, "hv-c": 2 });

    const table = await headroom([...handle.cli, "get", "vmi"]);
    expect(table.code, table.stderr).toBe(0);
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header?.split(/ +/)).toEqual(["NAME", "PHASE", "CAPACITY", "FREE", "NODE", "AGE"]);
    const nodes = rows.map((row) => row.split(/ +/)[4]).sort();
    expect(nodes).toEqual(["hv-a", "hv-a", "hv-b", "hv-b", "hv-c", "hv-c"]);

    const onC = names.find((name) => launchersThatRan(name)[0] === "hv-c") ?? "";
    const described = await headroom([...handle.cli, "describe", "vmi", onC]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/Node: +hv-c/);
    // The live view came from hv-c's launcher: no note that none answered.
    expect(described.stdout).not.toContain("no launcher answered");
    expect(described.stdout).not.toContain("has no running domain");
  });

  it("honors nodeSelector: zone=b lands on hv-b", async () => {
    const run = await applyAndWait(handle.cli, dir, "pick-b", await seed("pick-b", { zone: "b" }));
    expect(run.code, run.stderr).toBe(0);
    expect((await handle.stack.settled("pick-b")).status?.node).toBe("hv-b");
    expect(launchersThatRan("pick-b")).toEqual(["hv-b"]);
  });

  it("keeps a VMI no host matches Pending with the reason, and runs it once a host has the label", async () => {
    const file = `${dir}/wait-z.json`;
    await writeFile(file, JSON.stringify(await seed("wait-z", { zone: "z" })));
    const applied = await headroom([...handle.cli, "apply", "-f", file]);
    expect(applied.code, applied.stderr).toBe(0);
    let wide = "";
    for (let i = 0; i < 50 && !wide.includes("0/3 hosts"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      wide = (await headroom([...handle.cli, "get", "vmi", "wait-z", "-o", "wide"])).stdout;
    }
    expect(wide).toMatch(/wait-z +Pending .*0\/3 hosts can run it: 3 do not match nodeSelector/);

    // hv-c comes back with zone=z: the VMI is placed there.
    await launchers.get("hv-c")?.stop();
    launchers.set("hv-c", await handle.stack.start("launcher", hostEnv("hv-c", "zone=z")));
    const record = await handle.stack.settled("wait-z");
    expect(record.status?.phase).toBe(Phase.PHASE_RUNNING);
    expect(record.status?.node).toBe("hv-c");
  });

  it("hands a deletion to the VMI's host alone, which removes its domain", async () => {
    const run = await headroom([...handle.cli, "delete", "vmi", "pick-b", "--wait"]);
    expect(run.code, run.stderr).toBe(0);
    expect(await handle.stack.conn.findDomain(domainNameOf(NS, "pick-b"))).toBeUndefined();
    const released = (node: string) =>
      /"vmi":"cli-place\/pick-b"[^\n]*"msg":"released"/.test(launchers.get(node)?.logs() ?? "");
    expect(["hv-a", "hv-b", "hv-c"].filter(released)).toEqual(["hv-b"]);
  });
});
