// Entrypoint: node services/validator/dist/main.js (compiled by npm run build)
// Env: HEADROOM_NATS_URL (default nats://127.0.0.1:4222), HEADROOM_NATS_USER/_SEED,
// HEADROOM_NATS_TLS_CA/_CERT/_KEY, HEADROOM_LOG_LEVEL, HEADROOM_MAX_VMIS_PER_NAMESPACE
// (default 1000, 0 for no limit).
import { readFileSync } from "node:fs";
import { connect, createLogger, SERVICE_NAMES } from "@headroom/bus";
import { DEFAULT_MAX_VMIS_PER_NAMESPACE, startValidator } from "./validator.ts";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const log = createLogger(SERVICE_NAMES.validator);

/** HEADROOM_MAX_VMIS_PER_NAMESPACE: a whole number, 0 for no limit. */
function maxVmisPerNamespace(): number {
  const raw = process.env.HEADROOM_MAX_VMIS_PER_NAMESPACE;
  if (raw === undefined || raw === "") return DEFAULT_MAX_VMIS_PER_NAMESPACE;
  const value = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value))
    throw new Error(
      `HEADROOM_MAX_VMIS_PER_NAMESPACE is ${JSON.stringify(raw)}; it must be a whole number (0 for no limit)`,
    );
  return value;
}

try {
  const quota = maxVmisPerNamespace();
  const nc = await connect({ name: SERVICE_NAMES.validator, waitForServer: true, log });
  const validator = await startValidator(nc, { log, version, maxVmisPerNamespace: quota });
  log.info({ id: validator.micro.id, version, maxVmisPerNamespace: quota }, "validator ready");

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
  // Stale counts would let the quota slip: exit, so the supervisor starts afresh.
  void validator.lost.then(async (error) => {
    log.fatal({ err: error }, "validator stopping: it no longer follows the VMI bucket");
    await stop("lost");
    process.exitCode = 1;
  });
} catch (error) {
  log.fatal({ err: error }, "validator could not start");
  process.exitCode = 1;
}
