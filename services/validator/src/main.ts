// Entrypoint: node services/validator/dist/main.js (compiled by npm run build)
// Env: HEADROOM_NATS_URL (default nats://127.0.0.1:4222), HEADROOM_NATS_USER/_PASSWORD,
// HEADROOM_NATS_TLS_CA/_CERT/_KEY, HEADROOM_LOG_LEVEL.
import { readFileSync } from "node:fs";
import { connect, createLogger, SERVICE_NAMES } from "@headroom/bus";
import { startValidator } from "./validator.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const log = createLogger(SERVICE_NAMES.validator);

try {
  const nc = await connect({ name: SERVICE_NAMES.validator, waitForServer: true, log });
  const validator = await startValidator(nc, { log, version });
  log.info({ id: validator.micro.id, version }, "validator ready");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "validator stopping");
    await validator.stop();
    await nc.drain();
    log.info("validator stopped");
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
} catch (error) {
  log.fatal({ err: error }, "validator could not start");
  process.exitCode = 1;
}
