// Entrypoint: node services/launcher/dist/main.js (compiled by npm run build)
// Env: HEADROOM_NATS_URL (default nats://127.0.0.1:4222), HEADROOM_LIBVIRT_URI
// (default qemu:///system), HEADROOM_VIRT_TYPE (auto|kvm|qemu), HEADROOM_STATE_DIR,
// HEADROOM_NODE_NAME, HEADROOM_LOG_LEVEL, HEADROOM_DETACH_TIMEOUT_MS (how long a
// guest gets to release an unplugged NIC, default 30000), HEADROOM_UNPLUG_RETRY_MS
// (when to ask a guest again for a NIC it kept, doubling to 15 min; default 60000),
// HEADROOM_LAUNCHER_CONCURRENCY (VMIs worked on at once; default 4 per CPU),
// HEADROOM_LAUNCHER_DEFINE_ONLY=1 (define domains, never start them: benchmarks),
// HEADROOM_MAX_IMAGE_BYTES (largest image fetched from the image store; default 4 GiB),
// HEADROOM_POD_SUBNET (the pod network's IPv4 subnet, default 10.0.2.0/24),
// HEADROOM_INSECURE_REGISTRIES (host[:port],... pulled from over plain HTTP
// when HTTPS fails; loopback registries always may be),
// HEADROOM_HOST_DISK_DIRS (absolute directories, ':' between them, whose files
// hostDisk volumes may use; none by default),
// HEADROOM_PORT_ADDRESS (the host address forwarded guest ports listen on,
// default 127.0.0.1; 0.0.0.0 opens them to every network the host is on),
// HEADROOM_NATS_USER/_SEED (its NATS login, "launcher" under headroom up),
// HEADROOM_NODE_LABELS (key=value,... this host's labels), HEADROOM_HEARTBEAT_MS
// (how often the host's record is refreshed, default 10000).
// Flags, which win over the environment: --node NAME, --label key=value (repeatable).
import { isIP } from "node:net";
import { connect, createLogger, SERVICE_NAMES } from "@headroom/bus";
import { chooseVirtType } from "@headroom/domain-manager";
import { hostState } from "@headroom/host-state";
import { openImageStore } from "@headroom/images";
import { parseHostDiskDirs } from "./host_disks.ts";
import { hostIdentity, LAUNCHER_USAGE } from "./host_flags.ts";
import { startLauncher } from "./launcher.ts";
import { ReconnectingConnection } from "./reconnect.ts";

const log = createLogger(SERVICE_NAMES.launcher);
const uri = process.env.HEADROOM_LIBVIRT_URI || "qemu:///system";
const detachTimeoutMs = Number(process.env.HEADROOM_DETACH_TIMEOUT_MS) || undefined;
const unplugRetryMs = Number(process.env.HEADROOM_UNPLUG_RETRY_MS) || undefined;
const concurrency = Number(process.env.HEADROOM_LAUNCHER_CONCURRENCY) || undefined;
const maxImageBytes = Number(process.env.HEADROOM_MAX_IMAGE_BYTES) || undefined;

// A wrong flag or name is the administrator's to fix: said plainly, before anything starts.
let identity: ReturnType<typeof hostIdentity>;
try {
  identity = hostIdentity(process.argv.slice(2), process.env);
} catch (error) {
  process.stderr.write(`headroom-launcher: ${(error as Error).message}\n${LAUNCHER_USAGE}`);
  process.exit(2);
}
if (identity === "help") {
  process.stdout.write(LAUNCHER_USAGE);
  process.exit(0);
}

try {
  const hostDiskDirs = parseHostDiskDirs(process.env.HEADROOM_HOST_DISK_DIRS);
  const portAddress = process.env.HEADROOM_PORT_ADDRESS || undefined;
  if (portAddress && isIP(portAddress) === 0)
    throw new Error(
      `HEADROOM_PORT_ADDRESS=${portAddress} is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)`,
    );
  // libvirtd restarts leave domains running: reconnect and carry on.
  const conn = await ReconnectingConnection.open(uri, {
    onLost: (reason) => log.error({ uri, reason }, "libvirt connection lost; reconnecting"),
    onRetry: (error, delayMs) =>
      log.warn({ uri, err: error, retryInMs: delayMs }, "libvirt still unreachable"),
    onReconnected: (attempts) => log.info({ uri, attempts }, "libvirt reconnected"),
  });
  const state = hostState();
  const choice = await chooseVirtType(conn.current(), openImageStore(state.images), {
    cachePath: state.virtTypeCache,
    log: (message, fields) => log.info(fields ?? {}, message),
  });
  // source says which path was taken: forced, cached (this boot) or probed.
  log.info(
    { uri, virtType: choice.virtType, source: choice.source, why: choice.reason },
    "libvirt connected",
  );

  const nc = await connect({ name: SERVICE_NAMES.launcher, waitForServer: true, log });
  const launcher = await startLauncher(nc, conn, {
    log,
    virtType: choice.virtType,
    ...(detachTimeoutMs ? { detachTimeoutMs } : {}),
    ...(unplugRetryMs ? { unplugRetryMs } : {}),
    ...(concurrency ? { concurrency } : {}),
    ...(maxImageBytes ? { maxImageBytes } : {}),
    ...(process.env.HEADROOM_POD_SUBNET ? { podSubnet: process.env.HEADROOM_POD_SUBNET } : {}),
    insecureRegistries: (process.env.HEADROOM_INSECURE_REGISTRIES ?? "")
      .split(",")
      .map((registry) => registry.trim())
      .filter(Boolean),
    defineOnly: process.env.HEADROOM_LAUNCHER_DEFINE_ONLY === "1",
    hostDiskDirs,
    ...(portAddress ? { portAddress } : {}),
    ...identity,
  });
  log.info("launcher ready");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "launcher stopping");
    await launcher.stop();
    await nc.drain();
    await conn.close();
    log.info("launcher stopped");
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  // Alive but taking no work is worse than dead: exit, and be started afresh.
  void launcher.lost.then(async (why) => {
    if (stopping) return;
    log.fatal({ err: why }, "launcher stopped taking work; exiting");
    process.exitCode = 1;
    await stop("lost");
    process.exit();
  });
} catch (error) {
  log.fatal({ err: error }, "launcher could not start");
  process.exitCode = 1;
}
