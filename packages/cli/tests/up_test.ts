// `headroom up` as `npm start` runs it: a child process that starts
// nats-server and the services, prints its banner, and on SIGINT leaves
// nothing running.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  connect,
  ensureCredentials,
  type NatsConnection,
  NotAuthorizedError,
  readClientCredentials,
  readCredentials,
  SERVICE_NAMES,
  toJetStream,
} from "@headroom/bus";
import { freePort, startNats } from "@headroom/testing";
import { afterEach, describe, expect, it } from "vitest";
import { natsSpec } from "../src/up.ts";
import { headroom, type Running, repoRoot, start } from "./run.ts";

// The launcher picks KVM by booting a probe domain; TCG is forced so that this
// test defines no domain at all.
const ENV = { HEADROOM_VIRT_TYPE: "qemu" };
const BANNER = "headroom is up";

let up: Running | undefined;
let stateDir: string | undefined;

afterEach(async () => {
  // A failed test must not leave headroom running.
  if (up && up.child.exitCode === null && up.child.signalCode === null) {
    for (const child of descendantsOf(up.child.pid ?? -1)) kill(child);
    up.child.kill("SIGKILL");
    await up.done;
  }
  up = undefined;
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
  stateDir = undefined;
});

/** Every process below `pid`, read from /proc (nats-server runs in its own session, but stays a child). */
function descendantsOf(pid: number): { pid: number; command: string }[] {
  const children = new Map<number, { pid: number; command: string }[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid ...; comm may hold spaces, so split after the last ")".
    const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(ppid) ?? [];
    list.push({ pid: Number(entry), command });
    children.set(ppid, list);
  }
  const found: { pid: number; command: string }[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kill(process_: { pid: number }): void {
  try {
    process.kill(process_.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function ping(nc: NatsConnection, service: string): Promise<{ name: string }> {
  const reply = await nc.request(`$SRV.PING.${service}`, undefined, { timeout: 5000 });
  return reply.json<{ name: string }>();
}

async function answers(url: string): Promise<boolean> {
  try {
    const nc = await connect({ name: "up-test-probe", servers: url, env: {} });
    await nc.close();
    return true;
  } catch (error) {
    // A server that wants a login is there all the same.
    return error instanceof NotAuthorizedError;
  }
}

describe("headroom up", () => {
  it("starts nats-server and the services, and SIGINT stops every one of them", async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-up-"));
    up = start(
      [
        "up",
        "--nats-url",
        url,
        "--state-dir",
        stateDir,
        "--node",
        "up-host",
        "--label",
        "role=lab",
      ],
      ENV,
    );
    await up.waitForOutput(BANNER, 90_000);
    expect(up.stdout()).toContain(
      `NATS      ${url} (started here, store ${join(stateDir, "nats")})`,
    );
    expect(up.stdout()).toContain("npx headroom --server");
    expect(up.stdout()).toContain("apply -f examples/vmi-seed.yaml --wait");
    // Output lines carry the name of the process they come from.
    expect(up.stdout()).toMatch(/^\[nats\] .*Server is ready/m);
    expect(up.stdout()).toMatch(/^\[validator\] .*validator ready/m);

    // The server wants a login: the client's, made at first start in the state directory.
    await expect(connect({ name: "up-test", servers: url, env: {} })).rejects.toThrow(
      NotAuthorizedError,
    );
    const secrets = join(stateDir, "secrets");
    expect(statSync(secrets).mode & 0o777).toBe(0o700);
    expect(statSync(join(secrets, "client.env")).mode & 0o777).toBe(0o600);
    const login = await readClientCredentials(secrets);
    expect(login?.user).toBe("client");
    const nc = await connect({ name: "up-test", servers: url, ...login });
    try {
      expect((await ping(nc, SERVICE_NAMES.validator)).name).toBe(SERVICE_NAMES.validator);
    } finally {
      await nc.close();
    }

    // The launcher runs this host under the name and labels up was given.
    await up.waitForOutput("launcher ready", 90_000);
    const node = await headroom([
      "--server",
      url,
      "--state-dir",
      stateDir,
      "get",
      "node",
      "up-host",
      "-o",
      "json",
    ]);
    expect(node.code, node.stderr).toBe(0);
    expect(JSON.parse(node.stdout)).toMatchObject({
      name: "up-host",
      status: "Ready",
      labels: { role: "lab", "kubernetes.io/hostname": "up-host" },
    });

    const children = descendantsOf(up.child.pid ?? -1);
    const commands = children.map((child) => child.command);
    expect(commands).toContain("nats-server");
    expect(commands.filter((command) => command === "node").length).toBeGreaterThanOrEqual(1);

    up.child.kill("SIGINT");
    const run = await up.done;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\[up\] SIGINT: stopping\n/);
    // Services stop before the server they talk through.
    const validatorStopped = run.stdout.indexOf("validator stopped");
    const natsExiting = run.stdout.indexOf("Server Exiting");
    expect(validatorStopped).toBeGreaterThan(0);
    expect(natsExiting).toBeGreaterThan(validatorStopped);
    expect(run.stdout.trimEnd().endsWith("[up] stopped")).toBe(true);

    // Give anything that is still exiting a moment.
    const deadline = Date.now() + 5_000;
    while (children.some((child) => alive(child.pid)) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(children.filter((child) => alive(child.pid))).toEqual([]);
    expect(await answers(url)).toBe(false);
    expect(readFileSync(join(stateDir, "logs", "up.log"), "utf8")).toContain("[up] stopped");
  });

  it("runs several hosts with --hosts N: N launchers, nodes NAME-1 … NAME-N, all Ready", async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-up-"));
    up = start(
      ["up", "--nats-url", url, "--state-dir", stateDir, "--hosts", "3", "--node", "trio"],
      ENV,
    );
    await up.waitForOutput(BANNER, 90_000);
    expect(up.stdout()).toMatch(
      /services {2}validator, domain-composer, launcher-trio-1, launcher-trio-2, launcher-trio-3/,
    );
    // Three hosts get three NATS servers, routed into one cluster.
    const port = Number(new URL(url).port);
    const urls = [0, 1, 2].map((i) => `nats://127.0.0.1:${port + i}`).join(",");
    expect(up.stdout()).toContain(`NATS      ${urls} (a cluster of 3 started here`);
    for (const name of ["nats-1", "nats-2", "nats-3"])
      expect(up.stdout()).toMatch(new RegExp(`^\\[${name}\\] .*Server is ready`, "m"));
    const cli = ["--server", urls, "--state-dir", stateDir];
    const deadline = Date.now() + 60_000;
    let ready: string[] = [];
    while (ready.length < 3 && Date.now() < deadline) {
      const nodes = await headroom([...cli, "get", "nodes"]);
      ready = nodes.stdout
        .split("\n")
        .filter((line) => / Ready /.test(line))
        .map((line) => line.split(/ +/)[0] ?? "");
      if (ready.length < 3) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(ready.sort()).toEqual(["trio-1", "trio-2", "trio-3"]);
    // Each host's lines carry its launcher's name.
    expect(up.stdout()).toMatch(/^\[launcher-trio-2\] .*connected to NATS/m);
    // Every stream and bucket is kept on all three servers.
    // As the validator, which may look at every stream headroom makes.
    const seeds = await readCredentials(join(stateDir, "secrets"));
    const nc = await connect({
      name: "up-test",
      servers: urls.split(","),
      user: "validator",
      seed: seeds?.validator ?? "",
    });
    try {
      const jsm = await toJetStream(nc).jetstreamManager();
      for (const stream of ["HEADROOM_PIPELINE", "HEADROOM_HOST_WORK", "KV_headroom-placements"])
        expect((await jsm.streams.info(stream)).config.num_replicas, stream).toBe(3);
    } finally {
      await nc.close();
    }

    const children = descendantsOf(up.child.pid ?? -1);
    expect(children.filter((child) => child.command === "nats-server")).toHaveLength(3);
    up.child.kill("SIGINT");
    expect((await up.done).code).toBe(0);
    const deadline2 = Date.now() + 5_000;
    while (children.some((child) => alive(child.pid)) && Date.now() < deadline2)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(children.filter((child) => alive(child.pid))).toEqual([]);
  });

  it("refuses --hosts outside 1 to 8 before anything starts", async () => {
    const run = await headroom(["up", "--hosts", "9"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("write a number of hosts from 1 to 8");
  });

  it("uses a NATS server that already answers when --server names it, and leaves it running", async () => {
    const nats = await startNats({ jetstream: true });
    stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-up-"));
    try {
      up = start(["--server", nats.url, "up", "--state-dir", stateDir], ENV);
      await up.waitForOutput(BANNER, 90_000);
      expect(up.stdout()).toContain(`[up] using the NATS server at ${nats.url}`);
      expect(up.stdout()).toContain(`NATS      ${nats.url} (already running)`);
      const children = descendantsOf(up.child.pid ?? -1);
      expect(children.map((child) => child.command)).not.toContain("nats-server");

      up.child.kill("SIGTERM");
      expect((await up.done).code).toBe(0);
      expect(children.filter((child) => alive(child.pid))).toEqual([]);
      expect(await answers(nats.url)).toBe(true);
    } finally {
      await nats.stop();
    }
  });
});

describe("headroom up and a server it did not start", () => {
  it("refuses one it was not told to use, before any login", async () => {
    // Stands in for anything listening where headroom's server would go: it
    // records what a client sends it.
    const port = await freePort();
    const received: string[] = [];
    const rogue = createServer((socket) => {
      socket.write(
        'INFO {"server_id":"rogue","version":"2.10.0","auth_required":true,"max_payload":1048576}\r\n',
      );
      socket.on("data", (chunk) => received.push(chunk.toString()));
      socket.on("error", () => {}); // the probe hangs up at once
    });
    await new Promise<void>((resolve) => rogue.listen(port, "127.0.0.1", resolve));
    stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-up-"));
    // Keys from an earlier start: up has a login it could try.
    await ensureCredentials(join(stateDir, "secrets"));
    try {
      // Set in the environment, as a shell profile might: not named on the command line.
      up = start(["up", "--state-dir", stateDir], {
        ...ENV,
        HEADROOM_NATS_URL: `nats://127.0.0.1:${port}`,
      });
      const run = await up.done;
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(
        `something already listens at nats://127.0.0.1:${port}, and headroom up did not start it`,
      );
      expect(run.stderr.replace(/\s+/g, " ")).toContain("or to one you name with --nats-url");
      expect(run.stdout).not.toContain("validator ready");
      // No CONNECT: not even a signed nonce reached it.
      expect(received.join("")).not.toMatch(/CONNECT/);
    } finally {
      await new Promise<void>((resolve) => rogue.close(() => resolve()));
    }
  });
});

describe("natsSpec", () => {
  it("runs headroom.conf, or tls.conf once a server certificate and key are named", () => {
    const plain = natsSpec(
      repoRoot,
      "127.0.0.1",
      4333,
      "/store",
      { HEADROOM_NATS_NKEY_CLIENT: "U…" },
      {},
    );
    expect(plain.conf).toBe(join(repoRoot, "infra", "nats", "headroom.conf"));
    expect(plain.args.slice(-6)).toEqual([
      "-c",
      "/store/server.conf",
      "-a",
      "127.0.0.1",
      "-p",
      "4333",
    ]);
    expect(plain.env).toMatchObject({
      HEADROOM_NATS_NKEY_CLIENT: "U…",
      HEADROOM_NATS_STORE_DIR: "/store",
    });
    const tlsEnv = {
      HEADROOM_NATS_TLS_SERVER_CERT: "/c.pem",
      HEADROOM_NATS_TLS_SERVER_KEY: "/k.pem",
    };
    const tls = natsSpec(repoRoot, "127.0.0.1", 4333, "/store", {}, tlsEnv);
    expect(tls.conf).toBe(join(repoRoot, "infra", "nats", "tls.conf"));
    expect(tls.env).toMatchObject(tlsEnv);
  });
});
