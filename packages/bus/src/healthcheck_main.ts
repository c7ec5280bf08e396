// A container's healthcheck: exits 0 when this host's replica of the service
// answers $SRV.PING, 1 otherwise. Logs in as the service does
// (HEADROOM_NATS_URL, _USER, _SEED, TLS variables).
//
//   node packages/bus/dist/healthcheck_main.js [SERVICE]
// SERVICE: validator, domain-composer or launcher; default HEADROOM_SERVICE.
import { connect } from "./connect.ts";
import { SERVICE_USERS } from "./credentials.ts";
import { answersPing } from "./healthcheck.ts";
import { SERVICE_NAMES } from "./subjects.ts";

const service = process.argv[2] ?? process.env.HEADROOM_SERVICE ?? "";
// A service's micro service name goes by the NATS user it logs in as.
const user = Object.hasOwn(SERVICE_USERS, service)
  ? SERVICE_USERS[service as keyof typeof SERVICE_USERS]
  : undefined;
const name = user && SERVICE_NAMES[user];
if (!name) {
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
