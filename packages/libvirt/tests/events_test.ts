import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Connection, type Domain, type DomainEvent, type LifecycleEvent } from "../src/mod.ts";
import { DomainJanitor, domainXml, EventRecorder, uniqueName } from "./helpers.ts";

const janitor = new DomainJanitor();
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.open();
});

afterAll(async () => {
  await janitor.cleanUp();
  await connection?.close();
});

const isLifecycle =
  (event: string) =>
  (candidate: DomainEvent): candidate is LifecycleEvent =>
    candidate.kind === "lifecycle" && candidate.event === event;

/** Suspends the domain and waits until `witness` saw it: every listener registered before has been called by then. */
async function suspendAndWitness(domain: Domain, witness: EventRecorder): Promise<void> {
  const since = witness.mark();
  await domain.suspend();
  await witness.waitFor(isLifecycle("suspended"), "suspended", { since, timeoutMs: 10_000 });
  await domain.resume();
  await witness.waitFor(isLifecycle("resumed"), "resumed", { since, timeoutMs: 10_000 });
}

describe("domain event registrations", () => {
  it("stop after unsubscribe, and after close of their connection", async () => {
    const domain = await connection.defineXml(domainXml(janitor.track(uniqueName("events"))));
    const second = await Connection.open();
    try {
      await domain.create({ paused: true });
      await domain.resume();
      const witness = new EventRecorder();
      const stopWitness = await connection.onDomainEvent(witness.listener, {
        domain,
        kinds: ["lifecycle"],
      });

      const unsubscribed = new EventRecorder();
      const unsubscribe = await connection.onDomainEvent(unsubscribed.listener, { domain });
      const onClosedConnection = new EventRecorder();
      await second.onDomainEvent(onClosedConnection.listener, {
        domain: await second.lookupByUuid(domain.uuid),
      });

      await suspendAndWitness(domain, witness);
      // Each connection delivers on its own schedule: wait for each listener's own events.
      await unsubscribed.waitFor(isLifecycle("resumed"), "resumed", { timeoutMs: 10_000 });
      await onClosedConnection.waitFor(isLifecycle("resumed"), "resumed", { timeoutMs: 10_000 });
      expect(unsubscribed.events.map((event) => (event as LifecycleEvent).event)).toEqual([
        "suspended",
        "resumed",
      ]);
      expect(onClosedConnection.events).toHaveLength(2);

      await unsubscribe();
      await unsubscribe();
      await second.close();
      await suspendAndWitness(domain, witness);
      expect(witness.events).toHaveLength(4);
      expect(unsubscribed.events).toHaveLength(2);
      expect(onClosedConnection.events).toHaveLength(2);
      await stopWitness();
    } finally {
      await second.close();
      await janitor.cleanUp();
    }
  });

  it("deliver only the kinds asked for, and reject unknown kinds", async () => {
    const name = janitor.track(uniqueName("kinds"));
    const recorder = new EventRecorder();
    const unsubscribe = await connection.onDomainEvent(
      (event) => {
        if (event.domain.name === name) recorder.listener(event);
      },
      { kinds: ["device-added", "device-removed"] },
    );
    try {
      const domain = await connection.defineXml(domainXml(name));
      await domain.create({ paused: true });
      await domain.attachDevice("<interface type='user'><model type='virtio'/></interface>", {
        live: true,
      });
      const added = await recorder.waitFor(
        (event) => event.kind === "device-added",
        "device-added",
      );
      expect(added).toMatchObject({ kind: "device-added", alias: "net0" });
      expect(recorder.events.every((event) => event.kind === "device-added")).toBe(true);
      await expect(
        connection.onDomainEvent(() => undefined, { kinds: ["nonsense" as "lifecycle"] }),
      ).rejects.toThrow(/unknown event kind "nonsense"/);
    } finally {
      await unsubscribe();
      await janitor.cleanUp();
    }
  });

  it("keep the process alive only while a listener is registered", async () => {
    const script = fileURLToPath(new URL("./fixtures/event_listener_process.ts", import.meta.url));
    const run = (mode: string) =>
      new Promise<{ exitedOnItsOwn: boolean; code: number | null; output: string }>(
        (resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", script, mode], {
            stdio: ["ignore", "pipe", "pipe"],
          });
          let output = "";
          let timer: NodeJS.Timeout | undefined;
          child.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString();
            // Once set up, give it 3 s to exit by itself.
            if (timer === undefined && output.includes("ready")) {
              timer = setTimeout(() => child.kill("SIGTERM"), 3_000);
            }
          });
          child.stderr.on("data", (chunk: Buffer) => {
            output += chunk.toString();
          });
          child.on("error", reject);
          child.on("exit", (code, signal) => {
            clearTimeout(timer);
            resolve({ exitedOnItsOwn: signal === null, code, output });
          });
        },
      );

    const [idle, unsubscribed, listening] = await Promise.all([
      run("idle"),
      run("unsubscribed"),
      run("listening"),
    ]);
    expect(idle).toMatchObject({ exitedOnItsOwn: true, code: 0 });
    expect(unsubscribed).toMatchObject({ exitedOnItsOwn: true, code: 0 });
    expect(listening.output).toContain("ready");
    expect(listening.exitedOnItsOwn).toBe(false);
  });
});
