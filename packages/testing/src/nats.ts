import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { killOnExit, terminate } from "./cleanup.ts";
import { repoRoot } from "./root.ts";

export interface StartNatsOptions {
  /** Enable JetStream with a store in a fresh temporary directory (default true). */
  jetstream?: boolean;
  /** Largest message the server accepts, bytes (default 2 MiB, as infra/nats/headroom.conf). */
  maxPayload?: number;
  /** Path of the nats-server binary (default: `nats-server` on PATH). */
  binary?: string;
  /**
   * Run with this configuration file instead (e.g. infra/nats/headroom.conf,
   * relative to the repository root); host, port and HEADROOM_NATS_STORE_DIR
   * are still set here, `jetstream` and `maxPayload` are ignored.
   */
  configFile?: string;
  /** More environment for the server, e.g. the public keys infra/nats/headroom.conf reads. */
  env?: Record<string, string>;
}

export interface NatsServer {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  /** JetStream store directory (kept across restart, removed by stop). */
  storeDir: string;
  /** Everything the server logged so far. */
  logs(): string;
  /** Stops the server and removes its store. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** SIGKILLs the server, as a crash would, keeping its store (restart() starts it again). */
  kill(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

/**
 * Starts a nats-server on a free loopback port and waits until it accepts
 * connections. The server is killed by stop() and when the test process exits.
 */
export async function startNats(options: StartNatsOptions = {}): Promise<NatsServer> {
  const jetstream = options.jetstream ?? true;
  const dir = await mkdtemp(join(tmpdir(), "headroom-nats-"));
  const storeDir = join(dir, "jetstream");
  const port = await freePort();
  const config = join(dir, "nats.conf");
  await writeFile(
    config,
    [
      `listen: "127.0.0.1:${port}"`,
      `max_payload: ${options.maxPayload ?? 2 * 1024 * 1024}`,
      jetstream ? `jetstream { store_dir: ${JSON.stringify(storeDir)} }` : "",
      "",
    ].join("\n"),
  );

  let log = "";
  let child: ChildProcess | undefined;

  const args = options.configFile
    ? ["-c", resolve(repoRoot(), options.configFile), "-a", "127.0.0.1", "-p", String(port)]
    : ["-c", config];
  const launch = async () => {
    const proc = spawn(options.binary ?? "nats-server", args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env, HEADROOM_NATS_STORE_DIR: storeDir },
    });
    child = proc;
    killOnExit(proc);
    proc.stdout?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    proc.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    await waitUntilReady(proc, port, () => log);
  };

  await launch();
  const stopServer = async () => {
    if (child) await terminate(child);
    child = undefined;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    logs: () => log,
    async stop() {
      await stopServer();
      await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopServer();
      await launch();
    },
    async kill() {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGKILL");
      await gone;
    },
  };
}

async function waitUntilReady(proc: ChildProcess, port: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`nats-server exited (${proc.exitCode ?? proc.signalCode}):\n${logs()}`);
    }
    if (logs().includes("Server is ready") && (await greets(port))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  proc.kill("SIGKILL");
  throw new Error(
    `nats-server did not get ready on port ${port} within ${READY_TIMEOUT_MS} ms:\n${logs()}`,
  );
}

/** True when something on the port sends a NATS INFO greeting. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once("data", (chunk: Buffer) => finish(chunk.toString().startsWith("INFO ")));
    socket.connect(port, "127.0.0.1");
  });
}

export interface NatsCluster {
  servers: NatsServer[];
  /** Every server's URL, comma-separated, as HEADROOM_NATS_URL and --server take them. */
  urls: string;
  stop(): Promise<void>;
}

/**
 * Starts `size` nats-servers routed into one cluster with the shipped
 * infra/nats/cluster.conf (headroom.conf's users, permissions and JetStream),
 * on loopback, and waits until each accepts connections. `env` carries the
 * users' public keys.
 */
export async function startNatsCluster(
  size: number,
  env: Record<string, string>,
): Promise<NatsCluster> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  // nats-server reads a variable's value as configuration: a value that starts
  // with a digit is taken for a number, so the password starts with a letter.
  const password = `r${randomBytes(16).toString("hex")}`;
  const routes = Object.fromEntries(
    [1, 2, 3].map((n) => [
      `HEADROOM_NATS_ROUTE_${n}`,
      // cluster.conf names three routes; a smaller cluster repeats its first.
      `nats-route://route:${password}@127.0.0.1:${clusterPorts[n - 1] ?? clusterPorts[0]}`,
    ]),
  );
  const servers = await Promise.all(
    clusterPorts.map((clusterPort, i) =>
      startNats({
        configFile: "infra/nats/cluster.conf",
        env: {
          ...env,
          ...routes,
          HEADROOM_NATS_SERVER_NAME: `n${i + 1}`,
          HEADROOM_NATS_CLUSTER_LISTEN: `127.0.0.1:${clusterPort}`,
          HEADROOM_NATS_ROUTE_PASSWORD: password,
        },
      }),
    ),
  );
  return {
    servers,
    urls: servers.map((server) => server.url).join(","),
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
