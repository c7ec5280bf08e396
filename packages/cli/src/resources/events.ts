// Capacity events, read from headroom's JetStream stream with an ordered
// consumer: no state kept on the server beyond the read, replayed in order.
import { decode, STREAMS, subjectToken, toJetStream } from "@headroom/bus";
import { CapacityEvent } from "@headroom/proto";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { HeadroomClient } from "../client.ts";
import { CliError, EXIT_UNREACHABLE } from "../exit-codes.ts";

/** Whose events: one VMI, a namespace, or (neither) every VMI. */
export interface EventScope {
  namespace?: string;
  name?: string;
}

/** The subject filter of a scope, e.g. "headroom.capacity.lab.*". */
export function eventFilter(scope: EventScope): string {
  if (scope.namespace === undefined) return "headroom.capacity.>";
  const name = scope.name === undefined ? "*" : subjectToken(scope.name);
  return `headroom.capacity.${subjectToken(scope.namespace)}.${name}`;
}

export interface ReadEventsOptions {
  /** After the stored events, keep delivering new ones until `signal` aborts. */
  follow: boolean;
  signal?: AbortSignal;
  /** Once, with every event stored when the read began (oldest first), also when there are none. */
  onStored(events: CapacityEvent[]): void;
  /** With `follow`: each event stored after that, as it comes. */
  onEvent?(event: CapacityEvent): void;
}

/**
 * Reads the capacity events of `scope`. The number stored is read first (the
 * ordered consumer's pending count), so without `follow` the read ends after
 * the last of them, or at once when there are none.
 */
export async function readEvents(
  client: HeadroomClient,
  scope: EventScope,
  options: ReadEventsOptions,
): Promise<void> {
  const js = toJetStream(client.nc);
  let consumer: Awaited<ReturnType<typeof js.consumers.get>>;
  try {
    // A single filter (not a list) works with nats-server before 2.10 too.
    consumer = await js.consumers.get(STREAMS.capacity, { filter_subjects: eventFilter(scope) });
  } catch (error) {
    if (isStreamNotFound(error) && !options.follow) {
      // No launcher has ever run against this server: nothing happened yet.
      options.onStored([]);
      return;
    }
    if (isStreamNotFound(error)) {
      throw new CliError(
        `headroom at ${client.url} has no capacity event stream (${STREAMS.capacity}) yet: is the launcher running? start headroom with: npm start`,
        EXIT_UNREACHABLE,
      );
    }
    throw new CliError(
      `cannot read capacity events at ${client.url}: ${(error as Error).message}`,
      EXIT_UNREACHABLE,
    );
  }
  try {
    const total = (await consumer.info(true)).num_pending;
    const stored: CapacityEvent[] = [];
    if (total === 0) {
      options.onStored(stored);
      if (!options.follow) return;
    }
    if (options.signal?.aborted) return;
    const messages = await consumer.consume();
    const stop = () => messages.stop();
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      let storedDone = total === 0;
      for await (const msg of messages) {
        const event = decode(CapacityEvent, msg.data);
        if (storedDone) {
          options.onEvent?.(event);
          continue;
        }
        stored.push(event);
        // pending is what was left after this message when it was sent.
        if (stored.length >= total || msg.info.pending === 0) {
          storedDone = true;
          options.onStored(stored);
          if (!options.follow) break;
        }
      }
    } finally {
      options.signal?.removeEventListener("abort", stop);
      messages.stop();
    }
  } finally {
    // The server would drop it after a while anyway; an ordered consumer has no use afterwards.
    await consumer.delete().catch(() => {});
  }
}

/** The last `count` stored events of one VMI (this incarnation only: `uid`), oldest first. */
export async function lastEventsOf(
  client: HeadroomClient,
  vmi: { namespace: string; name: string; uid: string },
  count: number,
): Promise<CapacityEvent[]> {
  let last: CapacityEvent[] = [];
  await readEvents(
    client,
    { namespace: vmi.namespace, name: vmi.name },
    {
      follow: false,
      onStored(events) {
        last = events.filter((event) => !vmi.uid || event.uid === vmi.uid).slice(-count);
      },
    },
  );
  return last;
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}
