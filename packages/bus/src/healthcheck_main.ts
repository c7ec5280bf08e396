// A container's healthcheck: exits 0 when this host's replica of the service
// answers $SRV.PING, 1 otherwise. Logs in as the service does
// (HEADROOM_NATS_URL, _USER, _SEED, TLS variables).
//
//   node packages/bus/dist/healthcheck_main.js [SERVICE]
// SERVICE: validator, domain-composer or launcher; default HEADROOM_SERVICE.
import { connect } from "./connect.ts";
import { answersPing } from "./healthcheck.ts";
import { SERVICE_NAMES } from "./subjects.ts";

const MICRO_NAMES: Record<string, string> = {
  validator: SERVICE_NAMES.validator,
  "domain-composer": SERVICE_NAMES.composer,
  launcher: SERVICE_NAMES.launcher,
};

const service = process.argv[2] ?? process.env.HEADROOM_SERVICE ?? "";
const name = MICRO_NAMES[service];
if (name === undefined) {
  console.error(
    `healthcheck: no service named ${JSON.stringify(service)}; give validator, domain-composer or launcher (or set HEADROOM_SERVICE)`,
  );
  process.exit(2);
}
try {
  const nc = await connect({ name: `${name}-healthcheck` });
  const healthy = await answersPing(nc, name);
  await nc.close();
  if (!healthy) console.error(`healthcheck: ${name} on this host did not answer $SRV.PING`);
  process.exitCode = healthy ? 0 : 1;
} catch (error) {
  console.error(`healthcheck: ${name}: ${(error as Error).message}`);
  process.exitCode = 1;
}
