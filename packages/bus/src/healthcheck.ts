import { hostname } from "node:os";
import { Svcm } from "@nats-io/services";
import { errors, type NatsConnection } from "@nats-io/transport-node";

/** The micro service metadata key that names the host (container) a replica runs on. */
export const HOST_METADATA = "host";

/** This process's host name, as startMicroService puts it into the service's metadata. */
export function serviceHost(): string {
  return hostname();
}

/**
 * Whether the replica of a micro service that runs on `host` answers
 * $SRV.PING through the server within `maxWaitMs`. Replicas on other hosts
 * answer too; only this host's counts, so a container is healthy only when
 * its own service is.
 */
export async function answersPing(
  nc: NatsConnection,
  serviceName: string,
  host = serviceHost(),
  maxWaitMs = 2000,
): Promise<boolean> {
  try {
    const pings = await new Svcm(nc)
      .client({ maxWait: maxWaitMs, strategy: "timer" })
      .ping(serviceName);
    for await (const ping of pings) {
      if (ping.metadata?.[HOST_METADATA] === host) return true;
    }
    return false;
  } catch (error) {
    // No replica anywhere: the server says so at once.
    if (error instanceof errors.NoRespondersError) return false;
    throw error;
  }
}
