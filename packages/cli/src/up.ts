// What `headroom up` does: NATS, libvirtd and the services, supervised until
// Ctrl-C. commands/up.ts registers the command and loads this when it runs.
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  connect,
  DEFAULT_NATS_URL,
  ensureCredentials,
  type NatsConnection,
  type NatsCredentials,
  NotAuthorizedError,
  readCredentials,
  SERVICE_NAMES,
  SERVICE_USERS,
  serverEnv,
  threadPoolEnv,
  userEnv,
} from "@headroom/bus";
import type { HostState } from "@headroom/host-state";
import { type ProcessSpec, Supervisor } from "@headroom/supervisor";
import { CliError, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE } from "./exit-codes.ts";
import { DEFAULT_STATE_DIR } from "./globals.ts";
import { readableLogLine } from "./log-line.ts";
import {
  CLUSTER_SIZE,
  clusterServerDir,
  SERVER_CONF,
  serverConfPath,
  writeNatsConfig,
} from "./nats-config.ts";
import { repoRoot } from "./repo-root.ts";

/** The services `up` runs, in start order (stopped in reverse), with their micro service names. */
const SERVICES = [
  { dir: "validator", micro: SERVICE_NAMES.validator },
  { dir: "domain-composer", micro: SERVICE_NAMES.composer },
  { dir: "launcher", micro: SERVICE_NAMES.launcher },
] as const;

const NATS_READY_MS = 20_000;
const SERVICES_READY_MS = 60_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/**
 * Runs headroom on this host until Ctrl-C or SIGTERM; returns the exit code.
 * `named`: the user named the NATS URL on the command line, so a server that
 * already answers there may be used.
 */
export async function runUp(
  url: string,
  state: HostState,
  named: boolean,
  launchers: string[][] = [[]],
): Promise<number> {
  const processes = processesOf(launchers);
  // Several hosts get a NATS cluster, as several machines would.
  const natsServers = launchers.length > 1 ? CLUSTER_SIZE : 1;
  const root = repoRoot();
  await makeDir(state.logs);
  const logFile = createWriteStream(join(state.logs, "up.log"), { flags: "a" });
  const readers = new Set<(line: string) => void>();
  const say = (line: string) => {
    process.stdout.write(`${readableLogLine(line)}\n`);
    logFile.write(`${new Date().toISOString()} ${line}\n`);
    for (const read of readers) read(line);
  };
  const supervisor = new Supervisor({ write: say });

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    say(`[up] ${signal}: stopping`);
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const stopped = new Promise<void>((resolve) =>
    stop.signal.addEventListener("abort", () => resolve(), { once: true }),
  );
  // Should this process die without stopping them, take the children along.
  const killChildren = () => {
    for (const name of [...natsNames(natsServers), ...processes.map((process_) => process_.name)]) {
      const pid = supervisor.pid(name);
      if (pid) process.kill(pid, "SIGKILL");
    }
  };
  process.once("exit", killChildren);

  try {
    const nats = await ensureNats(
      { url, named, servers: natsServers },
      state,
      root,
      supervisor,
      { say, readers },
      stop.signal,
    );
    const { started: startedNats, credentials } = nats;
    if (stop.signal.aborted) return EXIT_OK;
    await ensureLibvirt(root, say);
    if (stop.signal.aborted) return EXIT_OK;

    const started: UpProcess[] = [];
    for (const service of processes) {
      // The compiled service, as npm run build writes it: plain node starts it at once.
      const main = join(root, "services", service.dir, "dist", "main.js");
      if (!existsSync(main)) {
        say(
          `[up] warning: services/${service.dir}/dist/main.js is missing (npm run build makes it); running without it`,
        );
        continue;
      }
      supervisor.start({
        name: service.name,
        command: process.execPath,
        args: [main, ...service.args],
        cwd: root,
        env: {
          ...process.env,
          HEADROOM_NATS_URL: nats.url,
          HEADROOM_STATE_DIR: state.root,
          ...(nats.started && natsServers > 1
            ? { HEADROOM_NATS_REPLICAS: String(CLUSTER_SIZE) }
            : {}),
          ...(credentials ? userEnv(credentials, SERVICE_USERS[service.dir]) : {}),
          ...threadPoolEnv(service.dir),
        },
      });
      started.push(service);
    }

    const missing = await waitForServices(nats.url, credentials, started, stop.signal);
    if (stop.signal.aborted) return EXIT_OK;
    for (const service of missing) {
      say(`[up] warning: the ${service.name} is not answering yet; see its lines above`);
    }
    process.stdout.write(
      banner(nats.url, startedNats, credentials !== undefined, state, started, missing),
    );
    await stopped;
    return EXIT_OK;
  } finally {
    await supervisor.stop();
    process.off("exit", killChildren);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    say("[up] stopped");
    await new Promise<void>((resolve) => logFile.end(resolve));
  }
}

/** A process `up` supervises beside nats-server: a service, or one host's launcher. */
interface UpProcess {
  /** Its name in the supervisor and on its output lines. */
  name: string;
  dir: (typeof SERVICES)[number]["dir"];
  micro: string;
  args: string[];
}

/** The services, with one launcher per host (named launcher-NODE when there are several). */
function processesOf(launchers: string[][]): UpProcess[] {
  return SERVICES.flatMap((service): UpProcess[] => {
    if (service.dir !== "launcher") return [{ ...service, name: service.dir, args: [] }];
    return launchers.map((args) => {
      const node = args[args.indexOf("--node") + 1];
      const name = launchers.length > 1 && node ? `launcher-${node}` : "launcher";
      return { ...service, name, args };
    });
  });
}

/**
 * Uses the NATS server at `url`, or starts one there. Returns whether it was
 * started here, and the credentials of headroom's users (none for a server
 * that was already running without them in <state-dir>/secrets). A server
 * already there is used only when the user named it: otherwise anything could
 * listen on the default port and pose as headroom's server.
 */
async function ensureNats(
  { url, named, servers }: { url: string; named: boolean; servers: number },
  state: HostState,
  root: string,
  supervisor: Supervisor,
  output: { say: (line: string) => void; readers: Set<(line: string) => void> },
  signal: AbortSignal,
): Promise<{ started: boolean; credentials: NatsCredentials | undefined; url: string }> {
  const { say } = output;
  const known = await readCredentials(state.secrets).catch((error: Error) => {
    throw new CliError(error.message, EXIT_USAGE);
  });
  if (!named && (await listens(localAddress(url)))) {
    throw new CliError(
      `something already listens at ${url}, and headroom up did not start it: headroom sends ` +
        "its logins only to a NATS server it starts, or to one you name with --nats-url. " +
        "Stop it (a headroom up that was killed can leave its nats-server running), " +
        "or name it if it is yours",
      EXIT_UNREACHABLE,
    );
  }
  const running = named ? await natsAnswers(url, known) : "absent";
  if (running === "refuses") {
    throw new CliError(
      `a NATS server at ${url} refuses headroom's client login from ${state.secrets}: ` +
        "it was started with other keys, or is not headroom's; stop it, or use --nats-url with another port",
      EXIT_UNREACHABLE,
    );
  }
  if (running === "answers") {
    say(`[up] using the NATS server at ${url}`);
    return { started: false, credentials: known, url };
  }
  const { host, port } = localAddress(url);
  if (spawnSync("nats-server", ["--version"]).error) {
    throw new CliError(
      `nothing answers at ${url} and nats-server is not installed: run bash infra/setup.sh`,
      EXIT_UNREACHABLE,
    );
  }
  await makeDir(state.nats);
  const credentials = await ensureCredentials(state.secrets).catch((error: Error) => {
    throw new CliError(`cannot keep NATS keys in ${state.secrets}: ${error.message}`);
  });
  if (servers > 1) {
    const started = await startCluster(
      host,
      port,
      state,
      root,
      supervisor,
      credentials,
      output,
      signal,
    );
    return { started: true, credentials, url: started };
  }
  const spec = natsSpec(root, host, port, state.nats, serverEnv(credentials));
  await writeNatsConfig(state, spec.conf).catch((error: Error) => {
    throw new CliError(`cannot write ${serverConfPath(state)}: ${error.message}`);
  });
  say(
    `[up] starting nats-server on ${host}:${port} with ${spec.conf} and the people's logins, ` +
      `JetStream store ${state.nats}, keys in ${state.secrets}`,
  );
  // Everything from here on goes to the address this server listens on, not
  // to whatever else `url` names or resolves to.
  const own = `nats://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const listening = serverReady(output.readers, signal, own);
  supervisor.start(spec);
  await listening;
  if (signal.aborted) return { started: true, credentials, url: own };
  if ((await natsAnswers(own, credentials)) !== "answers") {
    throw new CliError(
      `nats-server says it is ready at ${own}, but headroom's client cannot log in there`,
      EXIT_UNREACHABLE,
    );
  }
  return { started: true, credentials, url: own };
}

/**
 * Resolves when the nats-server `up` started says it serves (or `up` is
 * stopping); rejects when it could not bind its port (something else took it
 * since `up` looked), or said nothing in NATS_READY_MS.
 */
function serverReady(
  readers: Set<(line: string) => void>,
  signal: AbortSignal,
  own: string,
  name = "nats",
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (message: string) => () => reject(new CliError(message, EXIT_UNREACHABLE));
    const read = (line: string) => {
      if (!line.startsWith(`[${name}] `)) return;
      if (/Server is ready/.test(line)) done(resolve);
      else if (/address already in use|Error listening on port/i.test(line))
        done(
          fail(
            `nats-server could not listen at ${own}: something took the port after headroom up ` +
              "looked; headroom up logs in only to a server it started",
          ),
        );
    };
    const timer = setTimeout(
      () =>
        done(
          fail(
            `nats-server did not say it was ready at ${own} within ${NATS_READY_MS / 1000} s; see its lines above`,
          ),
        ),
      NATS_READY_MS,
    );
    const aborted = () => done(resolve);
    function done(settle: () => void) {
      clearTimeout(timer);
      readers.delete(read);
      signal.removeEventListener("abort", aborted);
      settle();
    }
    readers.add(read);
    signal.addEventListener("abort", aborted, { once: true });
  });
}

/**
 * nats-server with JetStream on host:port. It runs in a session of its own
 * (setsid), so a Ctrl-C in the terminal reaches `up` and not the server: `up`
 * stops the services first, and the server only after them.
 */
export function natsSpec(
  root: string,
  host: string,
  port: number,
  storeDir: string,
  publicKeys: Record<string, string>,
  env: NodeJS.ProcessEnv = process.env,
  cluster?: { name: string; env: Record<string, string> },
): ProcessSpec & { conf: string } {
  const tls = Boolean(env.HEADROOM_NATS_TLS_SERVER_CERT && env.HEADROOM_NATS_TLS_SERVER_KEY);
  const shipped = cluster ? "cluster.conf" : tls ? "tls.conf" : "headroom.conf";
  const conf = join(root, "infra", "nats", shipped);
  if (!existsSync(conf)) {
    throw new CliError(
      `${conf} is missing: headroom's NATS configuration is part of the repository`,
    );
  }
  // server.conf (writeNatsConfig) includes `conf`; it takes its store
  // directory and the services' public keys from the environment.
  const args = ["-c", join(storeDir, SERVER_CONF), "-a", host, "-p", String(port)];
  const setsid = spawnSync("setsid", ["--version"]).error === undefined;
  return {
    name: cluster?.name ?? "nats",
    command: setsid ? "setsid" : "nats-server",
    args: setsid ? ["nats-server", ...args] : args,
    cwd: root,
    env: { ...env, ...publicKeys, ...cluster?.env, HEADROOM_NATS_STORE_DIR: storeDir },
    conf,
  };
}

/** The supervisor's names of `up`'s nats-servers. */
function natsNames(servers: number): string[] {
  return servers > 1 ? Array.from({ length: servers }, (_, i) => `nats-${i + 1}`) : ["nats"];
}

/**
 * Starts CLUSTER_SIZE nats-servers on host:port, port+1, …, routed to each
 * other with infra/nats/cluster.conf (a route password made for this start),
 * each with its store in <state>/nats/n1, n2, …; resolves with their URLs
 * once each says it is ready.
 */
async function startCluster(
  host: string,
  port: number,
  state: HostState,
  root: string,
  supervisor: Supervisor,
  credentials: NatsCredentials,
  output: { say: (line: string) => void; readers: Set<(line: string) => void> },
  signal: AbortSignal,
): Promise<string> {
  if (process.env.HEADROOM_NATS_TLS_SERVER_CERT)
    throw new CliError(
      "up --hosts runs its NATS cluster on loopback without TLS; unset HEADROOM_NATS_TLS_SERVER_CERT, or run one host",
      EXIT_USAGE,
    );
  const ports = Array.from({ length: CLUSTER_SIZE }, (_, i) => port + i);
  for (const taken of ports) {
    if (await listens({ host, port: taken }))
      throw new CliError(
        `something already listens at ${host}:${taken}; up --hosts starts ${CLUSTER_SIZE} NATS servers on ports ${port} to ${port + CLUSTER_SIZE - 1}`,
        EXIT_UNREACHABLE,
      );
  }
  const clusterPorts = await Promise.all(ports.map(() => freeLoopbackPort()));
  // nats-server reads a variable's value as configuration: starting with a
  // letter, the password is read as a string.
  const password = `r${randomBytes(16).toString("hex")}`;
  const routes = Object.fromEntries(
    clusterPorts.map((clusterPort, i) => [
      `HEADROOM_NATS_ROUTE_${i + 1}`,
      `nats-route://route:${password}@127.0.0.1:${clusterPort}`,
    ]),
  );
  const urls: string[] = [];
  const ready: Promise<void>[] = [];
  for (const [i, clientPort] of ports.entries()) {
    const name = `nats-${i + 1}`;
    const dir = clusterServerDir(state, i + 1);
    await makeDir(dir);
    const spec = natsSpec(root, host, clientPort, dir, serverEnv(credentials), process.env, {
      name,
      env: {
        ...routes,
        HEADROOM_NATS_SERVER_NAME: `n${i + 1}`,
        HEADROOM_NATS_CLUSTER_LISTEN: `127.0.0.1:${clusterPorts[i]}`,
        HEADROOM_NATS_ROUTE_PASSWORD: password,
      },
    });
    await writeNatsConfig(state, spec.conf, dir).catch((error: Error) => {
      throw new CliError(`cannot write ${serverConfPath(state, dir)}: ${error.message}`);
    });
    const own = `nats://${host}:${clientPort}`;
    urls.push(own);
    ready.push(serverReady(output.readers, signal, own, name));
    supervisor.start(spec);
  }
  output.say(
    `[up] starting a cluster of ${CLUSTER_SIZE} nats-servers on ${host}:${port}-${port + CLUSTER_SIZE - 1} ` +
      `with infra/nats/cluster.conf and the people's logins, stores in ${state.nats}/n1..n${CLUSTER_SIZE}`,
  );
  await Promise.all(ready);
  const url = urls.join(",");
  if (!signal.aborted && (await natsAnswers(url, credentials)) !== "answers")
    throw new CliError(
      `the NATS cluster says it is ready at ${url}, but headroom's client cannot log in there`,
      EXIT_UNREACHABLE,
    );
  return url;
}

/** A loopback port nothing listened on a moment ago (for the cluster's routes). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const free = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(free));
    });
  });
}

/** Host and port of the first server in `url`, when it is on this host (loopback). */
export function localAddress(url: string): { host: string; port: number } {
  const first = url.split(",")[0]?.trim() ?? "";
  let parsed: URL;
  try {
    parsed = new URL(first.includes("://") ? first : `nats://${first}`);
  } catch {
    throw new CliError(`--nats-url ${url} is not a NATS URL`);
  }
  if (!LOOPBACK.has(parsed.hostname)) {
    throw new CliError(
      `nothing answers at ${url}, and headroom starts nats-server only on this host's loopback (127.0.0.1)`,
      EXIT_UNREACHABLE,
    );
  }
  const host =
    parsed.hostname === "localhost" ? "127.0.0.1" : parsed.hostname.replace(/^\[|\]$/g, "");
  return { host, port: parsed.port ? Number(parsed.port) : 4222 };
}

/** Whether anything accepts a TCP connection at host:port (no NATS login is tried). */
function listens({ host, port }: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(2_000);
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}

/** Whether a NATS server at `url` lets headroom's client in, refuses it, or is not there. */
async function natsAnswers(
  url: string,
  credentials: NatsCredentials | undefined,
): Promise<"answers" | "refuses" | "absent"> {
  let nc: NatsConnection;
  try {
    nc = await connectAsClient(url, credentials);
  } catch (error) {
    return error instanceof NotAuthorizedError ? "refuses" : "absent";
  }
  await nc.close().catch(() => {});
  return "answers";
}

function connectAsClient(url: string, credentials: NatsCredentials | undefined) {
  return connect({
    name: "headroom-up",
    servers: url.split(","),
    ...(credentials ? { user: "client", seed: credentials.client } : {}),
  });
}

const execFileAsync = promisify(execFile);

/** Starts virtlogd/libvirtd with infra/daemons.sh when libvirtd does not answer. */
async function ensureLibvirt(root: string, say: (line: string) => void): Promise<void> {
  const uri = process.env.HEADROOM_LIBVIRT_URI || "qemu:///system";
  try {
    await execFileAsync("virsh", ["-c", uri, "version"], { timeout: 15_000 });
    return;
  } catch {
    // Not answering: start it below.
  }
  say(`[up] libvirtd does not answer on ${uri}; starting it (infra/daemons.sh)`);
  try {
    const { stdout, stderr } = await execFileAsync(
      "bash",
      [join(root, "infra", "daemons.sh"), "--quiet"],
      { timeout: 60_000 },
    );
    for (const line of `${stdout}${stderr}`.split("\n").filter(Boolean)) say(`[daemons] ${line}`);
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string; message: string };
    const text = `${output.stdout ?? ""}${output.stderr ?? ""}`.trim() || output.message;
    for (const line of text.split("\n")) say(`[daemons] ${line}`);
    say("[up] warning: libvirtd is not running; the launcher cannot run VMs until it is");
  }
}

/**
 * Waits until each started service answers $SRV.PING, at most
 * SERVICES_READY_MS; returns those that did not.
 */
async function waitForServices<Service extends { micro: string }>(
  url: string,
  credentials: NatsCredentials | undefined,
  services: readonly Service[],
  signal: AbortSignal,
): Promise<Service[]> {
  let nc: NatsConnection;
  try {
    nc = await connectAsClient(url, credentials);
  } catch {
    return [...services];
  }
  try {
    const waiting = new Set(services);
    const deadline = Date.now() + SERVICES_READY_MS;
    while (waiting.size > 0 && Date.now() < deadline && !signal.aborted) {
      for (const service of [...waiting]) {
        try {
          await nc.request(`$SRV.PING.${service.micro}`, undefined, { timeout: 1000 });
          waiting.delete(service);
        } catch {
          // Not up yet.
        }
      }
      if (waiting.size > 0) await sleep(250, signal);
    }
    return [...waiting];
  } finally {
    await nc.close().catch(() => {});
  }
}

function banner(
  url: string,
  startedNats: boolean,
  withLogins: boolean,
  state: HostState,
  started: readonly { name: string }[],
  missing: readonly { name: string }[],
): string {
  const services = started
    .map((service) =>
      missing.includes(service) ? `${service.name} (not answering yet)` : service.name,
    )
    .join(", ");
  const servers = url.split(",").length;
  const nats = !startedNats
    ? `${url} (already running)`
    : servers > 1
      ? `${url} (a cluster of ${servers} started here, stores in ${state.nats}/n1..n${servers})`
      : `${url} (started here, store ${state.nats})`;
  // The commands below reach this headroom only with the same server and state directory.
  const server = url === DEFAULT_NATS_URL ? "" : ` --server ${url}`;
  const stateDir = state.root === DEFAULT_STATE_DIR ? "" : ` --state-dir ${state.root}`;
  return `
headroom is up
  NATS      ${nats}
  services  ${services || "none"}
  state     ${state.root}
${withLogins ? `  login     ${join(state.secrets, "client.env")} (the CLI's NATS user)\n` : ""}  log       ${join(state.logs, "up.log")}

Next, from ${repoRoot()}:
  npx headroom${server}${stateDir} network create headroom-bridge --bridge hr-br0
  npx headroom${server}${stateDir} apply -f examples/vmi-seed.yaml --wait
  npx headroom${server}${stateDir} get vmi
  npx headroom${server}${stateDir} logs vmi-iface-request-example -f
  npx headroom --help

Ctrl-C stops headroom.
`;
}

async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new CliError(
      `cannot create ${dir}: ${(error as Error).message}; choose another state directory with --state-dir`,
      EXIT_USAGE,
    );
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
