import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { killOnExit, terminate } from "./cleanup.ts";
import { freePort } from "./nats.ts";

export interface Registry {
  /** host:port, as image references name it: 127.0.0.1:<port> */
  host: string;
  /** Where it keeps its blobs (a test may tamper with them). */
  storageDir: string;
  logs(): string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
const run = promisify(execFile);

export interface RegistryOptions {
  /** Wants this login (htpasswd: basic authentication); none by default. */
  login?: { username: string; password: string };
  /** Serves HTTPS with this certificate and key (PEM files) instead of plain HTTP. */
  tls?: { cert: string; key: string };
}

/**
 * Debian's docker-registry (the reference implementation of the OCI
 * distribution spec) on a free loopback port, plain HTTP, storing in a fresh
 * temporary directory, with or without a login. Stopped by stop() and when
 * the test ends.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), "headroom-registry-"));
  let auth = "";
  if (options.login) {
    const { stdout } = await run("htpasswd", [
      "-Bbn",
      options.login.username,
      options.login.password,
    ]);
    await writeFile(join(dir, "htpasswd"), stdout);
    auth = `auth: { htpasswd: { realm: headroom-test, path: ${JSON.stringify(join(dir, "htpasswd"))} } }`;
  }
  const port = await freePort();
  const storageDir = join(dir, "storage");
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(storageDir)} }, delete: { enabled: true } }`,
      options.tls
        ? `http: { addr: "127.0.0.1:${port}", tls: { certificate: ${JSON.stringify(options.tls.cert)}, key: ${JSON.stringify(options.tls.key)} } }`
        : `http: { addr: "127.0.0.1:${port}" }`,
      auth,
      "",
    ].join("\n"),
  );
  let log = "";
  const child: ChildProcess = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  killOnExit(child);
  child.stdout?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString();
  });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited:\n${log}`);
    // Up once it answers (with a login, its 401 is an answer; over TLS, any HTTP answer).
    const ok = options.tls
      ? await listening(port)
      : await fetch(`http://${host}/v2/`).then(
          (r) => r.ok || r.status === 401,
          () => false,
        );
    if (ok) break;
    if (Date.now() > deadline) {
      await terminate(child);
      throw new Error(`docker-registry did not answer on ${host}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    host,
    storageDir,
    logs: () => log,
    async stop() {
      await terminate(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether something accepts a TCP connection on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
