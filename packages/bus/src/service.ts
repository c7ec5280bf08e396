import { ErrorReply } from "@headroom/proto";
import { type Service, type ServiceMsg, Svcm } from "@nats-io/services";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import { type DecodeError, decode, encode, type MessageType } from "./codec.ts";
import { ApiError } from "./errors.ts";
import { HOST_METADATA, serviceHost } from "./healthcheck.ts";
import type { Logger } from "./logger.ts";
import { MAX_REQUEST_BYTES, QUEUE_GROUP } from "./subjects.ts";

export interface RequestContext {
  subject: string;
  headers?: MsgHdrs;
  /** Child logger carrying the endpoint name. */
  log: Logger;
}

/** One request/reply endpoint whose request and reply are protobuf messages. */
export interface Endpoint<Request, ReplyInit> {
  /** Endpoint name in $SRV.INFO, e.g. "apply". */
  name: string;
  subject: string;
  request: MessageType<never, Request>;
  reply: MessageType<ReplyInit, unknown>;
  /** Returns the reply; throws ApiError for an error reply (anything else is INTERNAL). */
  handler(request: Request, context: RequestContext): Promise<ReplyInit> | ReplyInit;
  /** Default: the service's maxRequestBytes. */
  maxRequestBytes?: number;
}

/** Keeps the request and reply types of one endpoint tied together. */
export function endpoint<Request, ReplyInit>(
  spec: Endpoint<Request, ReplyInit>,
): Endpoint<Request, ReplyInit> {
  return spec;
}

export interface MicroServiceOptions {
  /** One of SERVICE_NAMES. */
  name: string;
  version: string;
  description?: string;
  /** Default QUEUE_GROUP: replicas share requests. */
  queue?: string;
  metadata?: Record<string, string>;
  /** Requests larger than this get a PAYLOAD_TOO_LARGE error reply (default 1 MiB). */
  maxRequestBytes?: number;
  // biome-ignore lint/suspicious/noExplicitAny: endpoints differ in their message types
  endpoints: Array<Endpoint<any, any>>;
  log: Logger;
}

export interface MicroService {
  service: Service;
  /** The service id ($SRV.*.<name>.<id>). */
  id: string;
  /** Requests being handled right now. */
  inFlight(): number;
  /** Stops taking requests, then waits for the ones in flight. */
  stop(): Promise<void>;
}

/**
 * Starts a NATS micro service ($SRV.PING/INFO/STATS) whose endpoints decode
 * the request, run the handler and encode the reply. Garbage, oversized
 * requests and handler failures become error replies; the service keeps
 * running.
 */
export async function startMicroService(
  nc: NatsConnection,
  options: MicroServiceOptions,
): Promise<MicroService> {
  const service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description ?? "",
    queue: options.queue ?? QUEUE_GROUP,
    // The host names the replica (its container under compose): the
    // healthcheck looks for its own, and $SRV.INFO shows where each runs.
    metadata: { ...options.metadata, [HOST_METADATA]: serviceHost() },
  });
  const running = new Set<Promise<void>>();
  const serviceLimit = options.maxRequestBytes ?? MAX_REQUEST_BYTES;

  for (const spec of options.endpoints) {
    const log = options.log.child({ endpoint: spec.name });
    const limit = spec.maxRequestBytes ?? serviceLimit;
    service.addEndpoint(spec.name, {
      subject: spec.subject,
      handler: (error, msg) => {
        if (error) {
          log.error({ err: error }, "endpoint subscription failed");
          return;
        }
        const work = handle(spec, msg, limit, log).finally(() => running.delete(work));
        running.add(work);
      },
    });
  }
  // Once this returns, the endpoints are subscribed on the server.
  await nc.flush();
  options.log.info(
    {
      serviceName: options.name,
      id: service.info().id,
      endpoints: options.endpoints.map((e) => e.subject),
    },
    "micro service started",
  );

  return {
    service,
    id: service.info().id,
    inFlight: () => running.size,
    async stop() {
      await service.stop();
      await Promise.allSettled([...running]);
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: see MicroServiceOptions.endpoints
async function handle(spec: Endpoint<any, any>, msg: ServiceMsg, limit: number, log: Logger) {
  if (!msg.reply) {
    log.warn({ subject: msg.subject }, "request without a reply subject ignored");
    return;
  }
  try {
    if (msg.data.length > limit) {
      throw new ApiError(
        "PAYLOAD_TOO_LARGE",
        `request of ${msg.data.length} bytes is larger than the limit of ${limit} bytes`,
      );
    }
    let request: unknown;
    try {
      request = decode(spec.request, msg.data);
    } catch (error) {
      throw new ApiError("BAD_REQUEST", (error as DecodeError).message, { cause: error });
    }
    const reply = await spec.handler(request, { subject: msg.subject, headers: msg.headers, log });
    msg.respond(encode(spec.reply, reply));
  } catch (error) {
    const apiError =
      error instanceof ApiError
        ? error
        : new ApiError(
            "INTERNAL",
            `internal error: ${(error as Error)?.message ?? String(error)}`,
            {
              cause: error,
            },
          );
    if (apiError.code === "INTERNAL") log.error({ err: error }, "request failed");
    else log.info({ code: apiError.code, reason: apiError.message }, "request refused");
    respondError(msg, apiError);
  }
}

function respondError(msg: ServiceMsg, error: ApiError): void {
  const body = encode(ErrorReply, { code: error.code, message: error.message });
  // Header values are single lines.
  msg.respondError(error.status, error.message.replace(/[\r\n]+/g, " "), body);
}
