import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  type JetStreamClient,
  type JsMsg,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { DecodeError } from "./codec.ts";
import { PermanentError } from "./errors.ts";
import { isApiError } from "./jetstream.ts";
import type { Logger } from "./logger.ts";

export interface ConsumeOptions {
  /** Deliveries before a failing message is given up (terminated). Default 5. */
  maxDeliver?: number;
  /** The server redelivers when a handler neither acks nor says it is working for this long. Default 30 s. */
  ackWaitMs?: number;
  /** Wait before redelivering after failure number `deliveryCount`. Default 1 s, doubling, at most 30 s. */
  retryDelayMs?: (deliveryCount: number) => number;
  log?: Logger;
  /** Called when a message is given up (PermanentError, DecodeError, or maxDeliver reached). */
  onGiveUp?: (msg: JsMsg, error: unknown) => void | Promise<void>;
  /**
   * Messages handled at once (default 1). Above 1 the handler must keep its
   * own order where order matters (e.g. one queue per VMI).
   */
  concurrency?: number;
}

export interface ConsumerLoop {
  /** Stops fetching, lets the message in hand finish, and resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Resolves when the loop has ended (after stop(), or when the connection closed). */
  done: Promise<void>;
  /**
   * Resolves, with why, only if the loop ended without stop(): the consumer
   * was deleted or the connection closed. A service then has nothing to do
   * and should exit, so that its supervisor starts it afresh.
   */
  lost: Promise<Error>;
}

export type MessageHandler = (msg: JsMsg) => Promise<void>;

const defaultRetryDelay = (deliveryCount: number) =>
  Math.min(30_000, 1000 * 2 ** (deliveryCount - 1));

/**
 * Processes a stream through a durable pull consumer (created or updated
 * here), `concurrency` messages at a time (default one). A message is acked only after the handler
 * resolved; a failure is nak'ed with a growing delay; after maxDeliver
 * deliveries — or at once for DecodeError/PermanentError — it is terminated
 * (and deleted from a work-queue stream).
 * Replicas calling this with the same durable share the messages.
 */
export async function consume(
  js: JetStreamClient,
  stream: string,
  durable: string,
  filterSubject: string,
  handler: MessageHandler,
  options: ConsumeOptions = {},
): Promise<ConsumerLoop> {
  const maxDeliver = options.maxDeliver ?? 5;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const retryDelay = options.retryDelayMs ?? defaultRetryDelay;
  const log = options.log?.child({ stream, durable });

  const config: Partial<ConsumerConfig> = {
    durable_name: durable,
    filter_subject: filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_deliver: maxDeliver,
  };
  const jsm = await js.jetstreamManager();
  // nats-server 2.9 keeps terminated messages in a work-queue stream; they
  // are deleted here so the stream does not fill up with them.
  const workQueue = (await jsm.streams.info(stream)).config.retention === RetentionPolicy.Workqueue;
  try {
    await jsm.consumers.add(stream, config);
  } catch (error) {
    // Exists with other settings: bring it up to date.
    if (isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await jsm.consumers.update(stream, durable, {
      ack_wait: config.ack_wait,
      max_deliver: maxDeliver,
      filter_subject: filterSubject,
    });
  }
  const consumer = await js.consumers.get(stream, durable);
  const concurrency = Math.max(1, options.concurrency ?? 1);
  // Fetch no more than can be handled: a stopped replica holds nothing back.
  // A deleted consumer ends the loop (instead of waiting forever for nothing).
  const messages = await consumer.consume({
    max_messages: concurrency,
    abort_on_missing_resource: true,
  });
  let stopping = false;

  const handleOne = async (msg: JsMsg) => {
    const attempt = msg.info.deliveryCount;
    const context = { subject: msg.subject, seq: msg.seq, attempt };
    // Long handlers (booting a VM) keep the message theirs.
    const keepalive = setInterval(() => msg.working(), Math.max(1000, ackWaitMs / 2));
    try {
      await handler(msg);
      msg.ack();
      log?.debug(context, "message processed");
    } catch (error) {
      const permanent = error instanceof PermanentError || error instanceof DecodeError;
      if (permanent || attempt >= maxDeliver) {
        msg.term(String((error as Error)?.message ?? error).slice(0, 200));
        if (workQueue) {
          await jsm.streams
            .deleteMessage(stream, msg.seq, false)
            .catch((deleteError) =>
              log?.warn({ err: deleteError }, "could not delete a given-up message"),
            );
        }
        log?.error(
          { ...context, err: error },
          permanent ? "message refused for good" : "message given up",
        );
        await Promise.resolve(options.onGiveUp?.(msg, error)).catch((hookError) =>
          log?.error({ err: hookError }, "onGiveUp failed"),
        );
      } else {
        const delay = retryDelay(attempt);
        msg.nak(delay);
        log?.warn({ ...context, err: error, retryInMs: delay }, "message failed, will retry");
      }
    } finally {
      clearInterval(keepalive);
    }
  };

  const inFlight = new Set<Promise<void>>();
  const ended = (async () => {
    for await (const msg of messages) {
      // Already fetched after stop(): hand it back for another replica.
      if (stopping) {
        msg.nak();
        continue;
      }
      const work: Promise<void> = handleOne(msg).finally(() => inFlight.delete(work));
      inFlight.add(work);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })().then(
    () => (stopping ? undefined : new Error(`consumer ${durable} stopped delivering`)),
    (error: unknown) => {
      log?.error({ err: error }, "consumer loop ended with an error");
      return error instanceof Error ? error : new Error(String(error));
    },
  );
  const lost = new Promise<Error>((resolve) => {
    void ended.then((error) => {
      if (error && !stopping) resolve(error);
    });
  });
  const done = ended.then(() => undefined);

  return {
    done,
    lost,
    async stop() {
      stopping = true;
      messages.stop();
      await done;
    },
  };
}
