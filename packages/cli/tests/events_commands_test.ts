// events and describe against a real nats-server and the real validator, with
// no launcher: the test publishes the capacity events and writes the status a
// launcher would, which is exactly what these commands read. The whole stack,
// with real hot-plugs, is in hotplug_commands_test.ts.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  API_SUBJECTS,
  type Buckets,
  capacitySubject,
  connect,
  encode,
  ensureBuckets,
  ensureStreams,
  type NatsConnection,
  request,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import {
  CapacityEvent,
  CapacityEventType,
  GetReply,
  GetRequest,
  type ICapacityEvent,
  Phase,
  VmiStatus,
} from "@headroom/proto";
import { type NatsServer, type ServiceProcess, startNats, startService } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { headroom, repoRoot, start } from "./run.ts";

const namespace = `cli-${randomBytes(3).toString("hex")}`;
const other = `cli-${randomBytes(3).toString("hex")}`;
let nats: NatsServer;
let validator: ServiceProcess;
let nc: NatsConnection;
let buckets: Buckets;
let server: string[];

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  validator = startService("services/validator/src/main.ts", { HEADROOM_NATS_URL: nats.url });
  await validator.waitForLog("validator ready");
  nc = await connect({ name: "cli-events-test", servers: nats.url });
  buckets = await ensureBuckets(nc);
  server = ["--server", nats.url];
});

afterAll(async () => {
  await validator?.stop();
  await nc?.close();
  await nats?.stop();
});

const { RESERVED, ATTACHED, DETACHED, EXHAUSTED } = {
  RESERVED: CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED,
  ATTACHED: CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED,
  DETACHED: CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED,
  EXHAUSTED: CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
};

let clock = Date.parse("2030-01-02T03:04:05Z");

/** Publishes an event as the launcher does (same subject, same message). */
async function publish(
  ns: string,
  name: string,
  type: CapacityEventType,
  fields: Partial<ICapacityEvent> = {},
): Promise<void> {
  clock += 1000;
  const event: ICapacityEvent = {
    type,
    namespace: ns,
    name,
    uid: "uid-1",
    requested: 5,
    effective: 5,
    inUse: 2,
    free: 3,
    timestampUnixMs: clock,
    node: "node-test",
    ...fields,
  };
  await toJetStream(nc).publish(capacitySubject(ns, name), encode(CapacityEvent, event));
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

describe("headroom events", () => {
  it("with no event stream yet, prints nothing and exits 0", async () => {
    const run = await headroom([...server, "-n", namespace, "events"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`No events found in ${namespace} namespace.\n`);
  });

  it("prints the stored events of the namespace oldest first as a table, and exits", async () => {
    await ensureStreams(nc);
    await publish(namespace, "web", RESERVED, { controllersAdded: 4 });
    await publish(namespace, "web", ATTACHED, { interfaceName: "third", inUse: 3, free: 2 });
    await publish(namespace, "db", RESERVED, { requested: null, effective: 1, inUse: 1, free: 0 });
    await publish(namespace, "web", EXHAUSTED, {
      interfaceName: "extra",
      inUse: 5,
      free: 0,
      message: `vmi ${namespace}/web has no free slot for interface extra`,
    });
    await publish(namespace, "web", DETACHED, { interfaceName: "third", inUse: 4, free: 1 });
    await publish(other, "web", RESERVED);

    const run = await headroom([...server, "-n", namespace, "events"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]?.split(/\s{3,}/)).toEqual([
      "TIME",
      "NAMESPACE/NAME",
      "TYPE",
      "INTERFACE",
      "REQUESTED",
      "EFFECTIVE",
      "IN-USE",
      "FREE",
      "MESSAGE",
    ]);
    expect(lines.slice(1).map((line) => line.split(/\s{3,}/))).toEqual([
      ["2030-01-02T03:04:06Z", `${namespace}/web`, "reserved", "<none>", "5", "5", "2", "3"],
      ["2030-01-02T03:04:07Z", `${namespace}/web`, "attached", "third", "5", "5", "3", "2"],
      ["2030-01-02T03:04:08Z", `${namespace}/db`, "reserved", "<none>", "<none>", "1", "1", "0"],
      [
        "2030-01-02T03:04:09Z",
        `${namespace}/web`,
        "exhausted",
        "extra",
        "5",
        "5",
        "5",
        "0",
        `vmi ${namespace}/web has no free slot for interface extra`,
      ],
      ["2030-01-02T03:04:10Z", `${namespace}/web`, "detached", "third", "5", "5", "4", "1"],
    ]);
  });

  it("--vmi keeps one VMI's, -A every namespace's", async () => {
    const one = await headroom([...server, "-n", namespace, "events", "--vmi", "web"]);
    expect(one.code).toBe(0);
    const types = one.stdout
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((line) =>
        line
          .split(/\s{3,}/)
          .slice(1, 3)
          .join(" "),
      );
    expect(types).toEqual([
      `${namespace}/web reserved`,
      `${namespace}/web attached`,
      `${namespace}/web exhausted`,
      `${namespace}/web detached`,
    ]);

    const all = await headroom([...server, "events", "-A", "-o", "json"]);
    expect(all.code).toBe(0);
    const namespaces = new Set(jsonLines(all.stdout).map((event) => event.namespace));
    expect(namespaces).toEqual(new Set([namespace, other]));

    const none = await headroom([...server, "-n", namespace, "events", "--vmi", "nobody"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe("");
    expect(none.stderr).toBe(`No events found for vmi/nobody in ${namespace} namespace.\n`);
  });

  it("-o json prints one camelCase object per line, type in lower case", async () => {
    const run = await headroom([...server, "-n", namespace, "events", "-o", "json"]);
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout);
    expect(events.map((event) => event.type)).toEqual([
      "reserved",
      "attached",
      "reserved",
      "exhausted",
      "detached",
    ]);
    expect(events[0]).toEqual({
      time: "2030-01-02T03:04:06.000Z",
      type: "reserved",
      namespace,
      name: "web",
      uid: "uid-1",
      interfaceName: "",
      requested: 5,
      effective: 5,
      inUse: 2,
      free: 3,
      controllersAdded: 4,
      node: "node-test",
      message: "",
      timestampUnixMs: Date.parse("2030-01-02T03:04:06Z"),
    });
    expect(events[2]?.requested).toBeNull();
  });

  it("--follow prints the stored events, then new ones as they come, until SIGINT (exit 0)", async () => {
    const follow = start([...server, "-n", namespace, "events", "--vmi", "web", "-f"]);
    await follow.waitForOutput("detached");
    await publish(namespace, "web", ATTACHED, { interfaceName: "fourth", inUse: 5, free: 0 });
    await follow.waitForOutput("fourth");
    const lines = follow.stdout().trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    // The new row lines up with the table printed before it.
    expect(lines[5]?.indexOf("attached")).toBe(lines[0]?.indexOf("TYPE"));
    follow.child.kill("SIGINT");
    const run = await follow.done;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe("");
  });

  it("--follow with no events yet says it waits, then prints the first one under a header", async () => {
    const follow = start([...server, "-n", namespace, "events", "--vmi", "later", "-f"]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(follow.stdout()).toBe("");
    await publish(namespace, "later", RESERVED);
    await follow.waitForOutput(`${namespace}/later`);
    follow.child.kill("SIGTERM");
    const run = await follow.done;
    expect(run.code).toBe(0);
    const [header, row, ...rest] = run.stdout.trimEnd().split("\n");
    expect(rest).toEqual([]);
    expect(header?.split(/\s{3,}/)[0]).toBe("TIME");
    expect(row?.split(/\s{3,}/).slice(1, 3)).toEqual([`${namespace}/later`, "reserved"]);
    expect(row?.indexOf("reserved")).toBe(header?.indexOf("TYPE"));
    expect(run.stderr).toBe(
      `No events yet for vmi/later in ${namespace} namespace; waiting for new ones (Ctrl-C to stop).\n`,
    );
  });

  it("-o json --follow prints JSON lines only, nothing on stderr", async () => {
    const follow = start([
      ...server,
      "-n",
      namespace,
      "events",
      "--vmi",
      "json",
      "-f",
      "-o",
      "json",
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await publish(namespace, "json", RESERVED);
    await follow.waitForOutput('"name":"json"');
    follow.child.kill("SIGINT");
    const run = await follow.done;
    expect(run.code).toBe(0);
    expect(jsonLines(run.stdout).map((event) => event.type)).toEqual(["reserved"]);
    expect(run.stderr).toBe("");
  });

  it("prints a name or message holding terminal escapes as visible text, never the escapes", async () => {
    const hostile = "evil\u001b]0;pwned\u0007\u001b[2J";
    await publish(namespace, "escapes", EXHAUSTED, { interfaceName: hostile, message: hostile });
    const run = await headroom([...server, "-n", namespace, "events", "--vmi", "escapes"]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain("\u001b");
    expect(run.stdout).not.toContain("\u0007");
    expect(run.stdout).toContain("evil\\x1b]0;pwned\\x07\\x1b[2J");
  });

  it("refuses --vmi with -A (exit 2), and exits 3 when headroom cannot be reached", async () => {
    const both = await headroom([...server, "events", "-A", "--vmi", "web"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--vmi names a VMI of one namespace");
    const unreachable = await headroom(["--server", "nats://127.0.0.1:1", "events"]);
    expect(unreachable.code).toBe(3);
  });
});

describe("headroom describe vmi without a launcher", () => {
  it("shows the stored status with a note, the manifest's interfaces and the last 10 events of this VMI", async () => {
    const seed = parse(readFileSync(`${repoRoot}/examples/vmi-seed.yaml`, "utf8"));
    seed.metadata = { name: "described", namespace };
    const applied = await headroom([...server, "apply", "-f", "-"], {}, JSON.stringify(seed));
    expect(applied.code).toBe(0);
    const got = await request(
      nc,
      API_SUBJECTS.get,
      GetRequest,
      { namespace, name: "described" },
      GetReply,
    );
    const uid = got.vmi?.uid ?? "";
    await buckets.status.put(
      storeKey(namespace, "described"),
      encode(VmiStatus, {
        phase: Phase.PHASE_RUNNING,
        node: "node-test",
        uid,
        observedGeneration: 1,
        capacity: {
          requested: 5,
          interfaces: 2,
          effective: 5,
          free: 3,
          controllersAdded: 4,
          inUse: 2,
        },
        interfaces: [
          { name: "default", mac: "52:54:00:aa:00:01", pciAddress: "0000:01:00.0", state: 2 },
          { name: "secondary", mac: "52:54:00:aa:00:02", pciAddress: "0000:02:00.0", state: 2 },
        ],
      }),
    );
    // An earlier VMI of the same name: its events are not this one's.
    await publish(namespace, "described", RESERVED, { uid: "an-earlier-one" });
    await publish(namespace, "described", RESERVED, { uid, inUse: 2, free: 3 });
    for (let i = 1; i <= 10; i++) {
      await publish(namespace, "described", i % 2 ? ATTACHED : DETACHED, {
        uid,
        interfaceName: `nic${i}`,
        inUse: 2 + (i % 2),
        free: 3 - (i % 2),
      });
    }

    const run = await headroom([...server, "-n", namespace, "describe", "vmi", "described"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const text = run.stdout;
    expect(text).toMatch(/^Name: +described$/m);
    expect(text).toMatch(new RegExp(`^Namespace: +${namespace}$`, "m"));
    expect(text).toMatch(new RegExp(`^UID: +${uid}$`, "m"));
    expect(text).toMatch(/^Generation: +1$/m);
    expect(text).toMatch(/^Node: +node-test$/m);
    expect(text).toMatch(/^Phase: +Running$/m);
    expect(text).toMatch(/^Machine type: +q35$/m);
    expect(text).toMatch(/^Capacity: +\(stored status: no launcher answered/m);
    expect(text).toMatch(/^ {2}Requested: +5$/m);
    expect(text).toMatch(/^ {2}Free: +3$/m);
    expect(text).toMatch(/^ {2}Controllers added: +4$/m);
    expect(text).toMatch(/^ {2}default +pod +52:54:00:aa:00:01 +<none> +0000:01:00\.0 +Attached$/m);
    expect(text).toMatch(
      /^ {2}secondary +headroom-bridge +52:54:00:aa:00:02 +<none> +0000:02:00\.0 +Attached$/m,
    );
    const events = text.slice(text.indexOf("Events:")).trimEnd().split("\n");
    expect(events[1]).toMatch(/^ {2}TYPE +INTERFACE +IN-USE +FREE +AGE +MESSAGE$/);
    // The last 10 of this VMI's 11: its reserved event falls off.
    expect(events.slice(2).map((line) => line.trim().split(/\s+/).slice(0, 2).join(" "))).toEqual(
      Array.from({ length: 10 }, (_, i) => `${(i + 1) % 2 ? "attached" : "detached"} nic${i + 1}`),
    );

    const json = await headroom([
      ...server,
      "-n",
      namespace,
      "describe",
      "vmi",
      "described",
      "-o",
      "json",
    ]);
    expect(json.code).toBe(0);
    const described = JSON.parse(json.stdout);
    expect(described.capacity).toMatchObject({
      source: "stored",
      requested: 5,
      effective: 5,
      inUse: 2,
      free: 3,
      controllersAdded: 4,
    });
    expect(described.capacity.note).toContain("no launcher answered");
    expect(described.interfaces).toHaveLength(2);
    expect(described.events).toHaveLength(10);
    expect(described.events.every((event: { uid: string }) => event.uid === uid)).toBe(true);

    const yaml = await headroom([
      ...server,
      "-n",
      namespace,
      "describe",
      "vmi",
      "described",
      "-o",
      "yaml",
    ]);
    expect(parse(yaml.stdout).uid).toBe(uid);
  });

  it("says vmi/NAME not found (exit 1), and refuses other kinds (exit 2)", async () => {
    const missing = await headroom([...server, "-n", namespace, "describe", "vmi", "nobody"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("headroom: vmi/nobody not found\n");
    const network = await headroom([...server, "describe", "network", "x"]);
    expect(network.code).toBe(2);
    expect(network.stderr).toContain(
      "describe shows VMIs and nodes; for networks use: headroom get networks x",
    );
  });
});
