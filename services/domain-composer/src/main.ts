// Entrypoint: node services/domain-composer/dist/main.js (compiled by npm run build)
// Env: HEADROOM_NATS_URL (default nats://127.0.0.1:4222), HEADROOM_NATS_USER/_SEED,
// HEADROOM_NATS_TLS_CA/_CERT/_KEY, HEADROOM_STATE_DIR (default /var/lib/headroom: the
// image store and the VMIs' files), HEADROOM_LOG_LEVEL.
import { readFileSync } from "node:fs";
import { connect, createLogger, SERVICE_NAMES } from "@headroom/bus";
import { hostState } from "@headroom/host-state";
import { startComposer } from "./composer.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const log = createLogger(SERVICE_NAMES.composer);

try {
  const nc = await connect({ name: SERVICE_NAMES.composer, waitForServer: true, log });
  const composer = await startComposer(nc, { log, version });
  log.info({ id: composer.micro.id, version, stateDir: hostState().root }, "domain-composer ready");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "domain-composer stopping");
    await composer.stop();
    await nc.drain();
    log.info("domain-composer stopped");
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  // Alive but taking no work is worse than dead: exit, and be started afresh.
  void composer.lost.then(async (why) => {
    if (stopping) return;
    log.fatal({ err: why }, "domain-composer stopped taking work; exiting");
    process.exitCode = 1;
    await stop("lost");
    process.exit();
  });
} catch (error) {
  log.fatal({ err: error }, "domain-composer could not start");
  process.exitCode = 1;
}
