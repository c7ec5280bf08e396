// addinterface, removeinterface, describe vmi, events and logs through the whole
// stack: a real nats-server, the validator, the domain composer and the
// launcher as their own processes, libvirtd and QEMU (TCG) running the tiny
// guest from a private image store. One guest boots; the CLI drives it as a
// user would, and every domain of the test's namespace is removed afterwards.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { domainsOf, testNamespace, virsh, writeSeedVmi } from "./host.ts";
import { headroom, start } from "./run.ts";

const namespace = testNamespace();
const name = "vmi-iface-request-example";
// NATS as `headroom up` runs it: each service its own user, the CLI the client
// user, whose password it reads from <state-dir>/secrets/client.env. TCG
// without the KVM probe: the probe would boot a guest of its own. The test
// creates the network itself, through the CLI. The services and the CLI must
// do all their work within the permissions headroom.conf gives them; a client
// without a login is refused on purpose below, so only refused publishes and
// subscriptions count.
const { stack, cli } = useCliStack({
  namespace,
  seedNetwork: false,
  refusals: /(Publish|Subscription) Violation/,
});
let stateDir = "";
let bridge = "";

beforeAll(async () => {
  stateDir = stack.stateDir;
  bridge = stack.bridge;
});

function hc(args: string[]) {
  return headroom([...cli, ...args]);
}

/** The free count describe prints, from "  Free:   N". */
function freeOf(text: string): number {
  const match = /^ {2}Free: +(\d+)$/m.exec(text);
  if (!match) throw new Error(`no Free: line in:\n${text}`);
  return Number(match[1]);
}

const ATTACHED = new RegExp(
  `^vmi/${name}: interface (\\S+) attached \\(capacity: 5 requested, (\\d+) in use, (\\d+) free\\)\n$`,
);

describe("hot-plug from the command line, on the seed VMI", () => {
  let freeAtStart = 0;
  let plugged: string[] = [];

  it("creates the network and the VMI, which runs", async () => {
    const network = await hc(["network", "create", "headroom-bridge", "--bridge", bridge]);
    expect(network.stderr).toBe("");
    expect(network.code).toBe(0);
    const file = await writeSeedVmi(stateDir, namespace, name);
    const apply = await hc(["apply", "-f", file, "--wait", "--timeout", "150s"]);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(
      new RegExp(`^vmi/${name} Running on .*: capacity 5, 2 in use`, "m"),
    );

    const described = await hc(["describe", "vmi", name]);
    expect(described.code).toBe(0);
    expect(described.stdout).toMatch(/^Capacity: +\(live\)$/m);
    freeAtStart = freeOf(described.stdout);
    expect(freeAtStart).toBeGreaterThanOrEqual(3);
  }, 200_000);

  it("logs prints the guest's serial console, -f until SIGINT (exit 0)", async () => {
    const follow = start([...cli, "logs", name, "-f"]);
    await follow.waitForOutput("headroom-guest: nics=2 ", 120_000);
    follow.child.kill("SIGINT");
    const followed = await follow.done;
    expect(followed.stderr).toBe("");
    expect(followed.code).toBe(0);
    const whole = await hc(["logs", name]);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toMatch(/^headroom-guest: nics=2 pci=\S+ ifaces=\S+ up=/m);
  }, 150_000);

  it("refuses what it cannot do before changing anything (exit 1), and exit 3 when unreachable", async () => {
    const noNetwork = await hc(["addinterface", name, "--name", "x", "--network", "nope"]);
    expect(noNetwork.code).toBe(1);
    expect(noNetwork.stderr).toContain("headroom: network/nope not found");
    const noVmi = await hc(["addinterface", "nobody", "--name", "x", "--network", "pod"]);
    expect(noVmi.code).toBe(1);
    expect(noVmi.stderr).toBe(`headroom: vmi ${namespace}/nobody not found\n`);
    // The seed has its pod network already; the validator allows one.
    const secondPod = await hc(["addinterface", name, "--name", "pod2", "--network", "pod"]);
    expect(secondPod.code).toBe(1);
    expect(secondPod.stderr).toContain(`vmi/${name}: interface pod2 was not attached (Invalid)`);
    expect(secondPod.stderr).toContain("only one pod network is allowed");
    const noInterface = await hc(["removeinterface", name, "--name", "nothere"]);
    expect(noInterface.code).toBe(1);
    expect(noInterface.stderr).toContain("has no interface nothere");
    const unreachable = await headroom([
      "--server",
      "nats://127.0.0.1:1",
      "addinterface",
      name,
      "--name",
      "x",
      "--network",
      "pod",
    ]);
    expect(unreachable.code).toBe(3);
    // Without the client login (another state directory, nothing in the environment): refused, named.
    const outsider = await headroom(
      ["--server", stack.natsUrl, "--state-dir", join(stateDir, "elsewhere"), "get", "vmi"],
      { HEADROOM_NATS_USER: "" },
    );
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toContain("refused to let this client in");
    expect(outsider.stderr).toContain(join(stateDir, "elsewhere", "secrets", "client.env"));
  }, 60_000);

  it("hot-plugs NICs until headroom refuses (exit 1, its message on stderr)", async () => {
    for (let i = 1; ; i++) {
      const add = await hc([
        "addinterface",
        name,
        "--name",
        `extra${i}`,
        "--network",
        "headroom-bridge",
      ]);
      if (add.code !== 0) {
        expect(add.code).toBe(1);
        expect(add.stdout).toBe("");
        expect(add.stderr).toBe(
          `headroom: vmi ${namespace}/${name} has no free slot for interface extra${i}: ` +
            `it asked for 5 (effective 5), ${2 + plugged.length} in use, 0 free\n`,
        );
        break;
      }
      expect(add.stderr).toBe("");
      const match = ATTACHED.exec(add.stdout);
      expect(match?.slice(1)).toEqual([`extra${i}`, String(2 + i), String(freeAtStart - i)]);
      plugged.push(`extra${i}`);
      expect(plugged.length).toBeLessThanOrEqual(freeAtStart);
    }
    expect(plugged).toHaveLength(freeAtStart);

    const described = await hc(["describe", "vmi", name]);
    expect(freeOf(described.stdout)).toBe(0);
    expect(described.stdout).toMatch(new RegExp(`^ {2}In use: +${2 + plugged.length}$`, "m"));
    for (const iface of plugged) {
      expect(described.stdout).toMatch(
        new RegExp(
          `^ {2}${iface} +headroom-bridge +\\S+ +<none> +0000:[0-9a-f]{2}:00\\.0 +Attached$`,
          "m",
        ),
      );
    }
  }, 400_000);

  it("unplugs one, giving its slot back", async () => {
    const removed = await hc(["removeinterface", name, "--name", "extra1"]);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(
      `vmi/${name}: interface extra1 detached (capacity: 5 requested, ${1 + plugged.length} in use, 1 free)\n`,
    );
    plugged = plugged.filter((iface) => iface !== "extra1");

    const described = await hc(["describe", "vmi", name]);
    expect(described.code).toBe(0);
    expect(freeOf(described.stdout)).toBe(1);
    expect(described.stdout).not.toMatch(/^ {2}extra1 /m);

    const json = await hc(["describe", "vmi", name, "-o", "json"]);
    expect(json.code).toBe(0);
    const d = JSON.parse(json.stdout);
    expect(d).toMatchObject({ name, namespace, phase: "Running", machineType: "q35" });
    expect(d.capacity).toMatchObject({
      source: "live",
      note: "",
      requested: 5,
      effective: 5,
      inUse: 2 + plugged.length,
      free: 1,
    });
    expect(d.capacity.controllersAdded).toBeGreaterThan(0);
    expect(d.interfaces.map((i: { name: string }) => i.name)).toEqual([
      "default",
      "secondary",
      ...plugged,
    ]);
    for (const iface of d.interfaces) {
      expect(iface.state).toBe("Attached");
      expect(iface.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(iface.pciAddress).toMatch(/^0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    }
    expect(d.events.map((e: { type: string }) => e.type).at(-1)).toBe("detached");
  }, 200_000);

  it("lists the events in order and exits; JSON lines parse", async () => {
    const expected = ["reserved", ...Array(freeAtStart).fill("attached"), "exhausted", "detached"];
    const table = await hc(["events", "--vmi", name]);
    expect(table.stderr).toBe("");
    expect(table.code).toBe(0);
    const rows = table.stdout.trimEnd().split("\n");
    expect(rows[0]).toMatch(
      /^TIME +NAMESPACE\/NAME +TYPE +INTERFACE +REQUESTED +EFFECTIVE +IN-USE +FREE +MESSAGE$/,
    );
    expect(rows.slice(1).map((row) => row.split(/\s{3,}/)[2])).toEqual(expected);
    expect(rows.at(-2)).toContain(`has no free slot for interface extra${freeAtStart + 1}`);

    const json = await hc(["events", "--vmi", name, "-o", "json"]);
    expect(json.code).toBe(0);
    const events = json.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.map((e) => e.type)).toEqual(expected);
    expect(events.map((e) => e.interfaceName)).toEqual([
      "",
      ...Array.from({ length: freeAtStart }, (_, i) => `extra${i + 1}`),
      `extra${freeAtStart + 1}`,
      "extra1",
    ]);
    for (const event of events) {
      expect(event).toMatchObject({ namespace, name, requested: 5, effective: 5 });
      expect(event.inUse + event.free).toBe(2 + freeAtStart);
    }
  }, 60_000);

  it("--follow prints an event that happens while it runs, and SIGINT ends it with exit 0", async () => {
    const follow = start([...cli, "events", "--vmi", name, "--follow"]);
    try {
      await follow.waitForOutput("detached");
      const add = await hc([
        "addinterface",
        name,
        "--name",
        "again",
        "--network",
        "headroom-bridge",
      ]);
      expect(add.code).toBe(0);
      await follow.waitForOutput("again", 30_000);
      const last = follow.stdout().trimEnd().split("\n").at(-1) ?? "";
      expect(last.split(/\s{3,}/).slice(1, 4)).toEqual([
        `${namespace}/${name}`,
        "attached",
        "again",
      ]);
    } finally {
      follow.child.kill("SIGINT");
    }
    const ended = await follow.done;
    expect(ended.code).toBe(0);
    expect(ended.stderr).toBe("");
  }, 200_000);

  it("a guest that does not release a NIC keeps it: exit 1 with the launcher's message", async () => {
    // A paused guest cannot answer the unplug request.
    await virsh("suspend", `${namespace}_${name}`);
    try {
      const removed = await hc(["removeinterface", name, "--name", "again"]);
      expect(removed.code).toBe(1);
      expect(removed.stdout).toBe("");
      expect(removed.stderr).toMatch(
        new RegExp(
          `^headroom: vmi/${name}: interface again was not detached \\(DetachFailed\\): ` +
            "the guest did not release ua-net-again within 30 s; it is still attached\n$",
        ),
      );
      // The VMI no longer declares it, the domain still holds it: describe shows both.
      const d = JSON.parse((await hc(["describe", "vmi", name, "-o", "json"])).stdout);
      expect(d.interfaces.at(-1)).toMatchObject({
        name: "again",
        network: "<none>",
        state: "Attached",
      });
      expect(d.capacity).toMatchObject({ source: "live", free: 0 });
      expect(d.reason).toContain("the guest did not release ua-net-again");
    } finally {
      await virsh("resume", `${namespace}_${name}`);
    }
  }, 200_000);

  it("deletes the VMI and its domain is gone", async () => {
    const deleted = await hc(["delete", "vmi", name, "--wait", "--timeout", "120s"]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toContain(`vmi/${name} removed: its domain is gone`);
    expect(await domainsOf(namespace)).toEqual([]);

    const events = await hc(["events", "--vmi", name, "-o", "json"]);
    const types = events.stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line).type);
    expect(types.at(-1)).toBe("released");
  }, 180_000);
});
