// headroom user add, list and remove against a real `headroom up`: a person's
// login works for the CLI at once, replies to it go where nobody else may
// read them, and removing it shuts that person out while connected.
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEnv } from "node:util";
import {
  connect,
  type NatsConnection,
  NotAuthorizedError,
  readClientCredentials,
} from "@headroom/bus";
import { freePort } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headroom, type Running, start } from "./run.ts";

let up: Running | undefined;
let stateDir = "";
let work = "";
let url = "";

beforeAll(async () => {
  url = `nats://127.0.0.1:${await freePort()}`;
  stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-users-"));
  work = await mkdtemp(join(tmpdir(), "headroom-cli-people-"));
  up = start(["up", "--nats-url", url, "--state-dir", stateDir], { HEADROOM_VIRT_TYPE: "qemu" });
  await up.waitForOutput("headroom is up", 90_000);
}, 120_000);

afterAll(async () => {
  if (up && up.child.exitCode === null) {
    up.child.kill("SIGINT");
    await up.done;
  }
  await rm(stateDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

/** `headroom --server URL --state-dir <up's>`: the host's administrator. */
function admin(args: string[]) {
  return headroom(["--server", url, "--state-dir", stateDir, ...args]);
}

/** A person's machine: their login as client.env in a state directory of their own. */
async function machineOf(loginFile: string): Promise<string> {
  const dir = await mkdtemp(join(work, "machine-"));
  await mkdir(join(dir, "secrets"), { mode: 0o700 });
  await writeFile(join(dir, "secrets", "client.env"), readFileSync(loginFile), { mode: 0o600 });
  return dir;
}

function loginOf(file: string): { user: string; seed: string } {
  const values = parseEnv(readFileSync(file, "utf8"));
  return { user: values.HEADROOM_NATS_USER ?? "", seed: values.HEADROOM_NATS_SEED ?? "" };
}

/** Whether the server lets `nc` subscribe to `subject` (a refusal arrives asynchronously). */
async function maySubscribe(nc: NatsConnection, subject: string): Promise<boolean> {
  const sub = nc.subscribe(subject);
  // A refused subscription ends with the server's error.
  const refused = sub.closed.then(
    (error) => error instanceof Error,
    () => true,
  );
  await nc.flush();
  const outcome = await Promise.race([
    refused,
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000)),
  ]);
  sub.unsubscribe();
  return !outcome;
}

describe("headroom user", () => {
  const aliceFile = () => join(work, "alice.env");

  it("adds a login that the running server takes at once, and the CLI works with it", async () => {
    const added = await admin(["user", "add", "alice", "--out", aliceFile()]);
    expect(added.stderr).toBe("");
    expect(added.code).toBe(0);
    expect(added.stdout).toContain(`user/alice added`);
    expect(added.stdout).toContain(`the server at ${url} lets alice in now`);
    expect(statSync(aliceFile()).mode & 0o777).toBe(0o600);
    expect(loginOf(aliceFile()).user).toBe("alice");
    // The server keeps the public key only.
    const people = readFileSync(join(stateDir, "secrets", "people.json"), "utf8");
    expect(people).not.toContain(loginOf(aliceFile()).seed);

    const machine = await machineOf(aliceFile());
    const listed = await headroom(["--server", url, "--state-dir", machine, "get", "vmi"]);
    expect(listed.stderr).toBe("No resources found in default namespace.\n");
    expect(listed.code).toBe(0);
  });

  it("gives alice replies nobody else may read, and no one else's", async () => {
    const alice = await connect({ name: "alice", servers: url, ...loginOf(aliceFile()) });
    const shared = await connect({
      name: "client",
      servers: url,
      ...(await readClientCredentials(join(stateDir, "secrets"))),
    });
    try {
      expect(await maySubscribe(alice, "_INBOX_alice.x")).toBe(true);
      expect(await maySubscribe(alice, "_INBOX_client.>")).toBe(false);
      expect(await maySubscribe(shared, "_INBOX_alice.>")).toBe(false);
    } finally {
      await alice.close().catch(() => undefined);
      await shared.close();
    }
  });

  it("lists the people, and refuses bad names, a second login and a file in the way", async () => {
    const list = await admin(["user", "list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME +AGE +KEY\nalice +\S+ +U[A-Z2-7]{55}\n$/);
    for (const name of ["validator", "Alice", "a_b", "x".repeat(33)]) {
      const refused = await admin(["user", "add", name, "--out", join(work, "bad.env")]);
      expect(refused.code, name).toBe(1);
      expect(refused.stderr).toMatch(/^headroom: user name /);
    }
    const again = await admin(["user", "add", "alice", "--out", join(work, "again.env")]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("user alice already has a login");
    // Never written over: someone's login may be there.
    const inTheWay = await admin(["user", "add", "bob", "--out", aliceFile()]);
    expect(inTheWay.code).toBe(2);
    expect(inTheWay.stderr).toContain(`cannot write ${aliceFile()}`);
    const json = JSON.parse((await admin(["user", "list", "-o", "json"])).stdout);
    expect(json.items.map((p: { name: string }) => p.name)).toEqual(["alice"]);
    expect(existsSync(join(work, "bad.env"))).toBe(false);
  });

  it("removes alice: her open connection is closed and her login refused", async () => {
    const alice = await connect({ name: "alice", servers: url, ...loginOf(aliceFile()) });
    const closed = alice.closed();
    const removed = await admin(["user", "remove", "alice"]);
    expect(removed.stderr).toBe("");
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain("user/alice removed");
    await expect(
      Promise.race([
        closed.then(() => "closed"),
        new Promise((resolve) => setTimeout(() => resolve("still open"), 10_000)),
      ]),
    ).resolves.toBe("closed");
    await expect(connect({ name: "alice", servers: url, ...loginOf(aliceFile()) })).rejects.toThrow(
      NotAuthorizedError,
    );
    const gone = await admin(["user", "remove", "alice"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("headroom: user/alice not found\n");
  });

  it("keeps the people across a restart of headroom up", async () => {
    const bob = join(work, "bob.env");
    const added = await admin(["user", "add", "bob", "--out", bob]);
    expect(added.code, added.stderr).toBe(0);
    up?.child.kill("SIGINT");
    await up?.done;
    up = start(["up", "--nats-url", url, "--state-dir", stateDir], { HEADROOM_VIRT_TYPE: "qemu" });
    await up.waitForOutput("headroom is up", 90_000);
    const nc = await connect({ name: "bob", servers: url, ...loginOf(bob) });
    await nc.close();
  }, 120_000);
});
