// `headroom logs`: a VMI's console log, read from the launcher of its host in
// chunks (headroom.api.v1.node.<node>.vmi.logs), each request answered once.
import { HOST_API, hostApiSubject } from "@headroom/bus/client";
import { isDnsLabel } from "@headroom/host-state";
import { ConsoleLogReply, ConsoleLogRequest, type IConsoleLogRequest } from "@headroom/proto";
import type { HeadroomClient } from "./client.ts";
import { CliError, EXIT_INVALID } from "./exit-codes.ts";
import { ConsoleText } from "./output.ts";
import { getVmi } from "./resources/vmis.ts";

/** How long a following request asks the launcher to wait for new output. */
export const FOLLOW_WAIT_MS = 5_000;
/** How much longer than its wait a request may take before it counts as unanswered. */
const REPLY_MARGIN_MS = 10_000;
/** How often a follow asks whether a Pending VMI has been placed on a host. */
const PLACED_POLL_MS = 1_000;

export interface ConsoleLogOptions {
  namespace: string;
  name: string;
  /** Only the last N lines first; undefined prints the whole log. */
  tail?: number;
  /** Keep printing new output until `signal` aborts. */
  follow: boolean;
  signal: AbortSignal;
  write: (text: string) => void;
}

/**
 * Prints the log (or its last lines) up to its size at the first reply; when
 * following, then what the guest writes, also into a new log of a VMI that
 * started again, until the signal aborts. Control characters are made visible.
 */
export async function printConsoleLog(
  client: HeadroomClient,
  options: ConsoleLogOptions,
): Promise<void> {
  const { namespace, name, follow, signal } = options;
  const text = new ConsoleText();
  const waitMs = follow ? FOLLOW_WAIT_MS : 0;
  const next: IConsoleLogRequest = {
    namespace,
    name,
    offset: options.tail === undefined ? 0 : -1,
    tailLines: options.tail ?? 0,
    fileId: "",
    waitMs: 0,
  };
  const node = await hostOf(client, namespace, name, follow, signal);
  if (!node) return;
  const subject = hostApiSubject(node, HOST_API.consoleLog);
  /** Without --follow: the size of the log when it was first read. */
  let end: number | undefined;
  while (!signal.aborted) {
    const reply = await untilAborted(
      client.call(subject, ConsoleLogRequest, next, ConsoleLogReply, {
        timeoutMs: (next.waitMs ?? 0) + REPLY_MARGIN_MS,
      }),
      signal,
    );
    if (!reply) break;
    const nextOffset = Number(reply.nextOffset);
    if (reply.data.length > 0) options.write(text.push(reply.data));
    if (!follow) {
      if (end === undefined || reply.restarted) end = Number(reply.size);
      if (nextOffset >= end || reply.data.length === 0) break;
    }
    next.offset = nextOffset;
    next.fileId = reply.fileId;
    // Once caught up, ask the launcher to wait for more.
    next.waitMs = nextOffset >= Number(reply.size) ? waitMs : 0;
  }
  options.write(text.end());
}

/**
 * The host the VMI is placed on, whose launcher has its console. A follow
 * waits for a Pending VMI to be placed ("" once the signal aborts); a single
 * read of one not placed yet is an error.
 */
async function hostOf(
  client: HeadroomClient,
  namespace: string,
  name: string,
  follow: boolean,
  signal: AbortSignal,
): Promise<string> {
  // The validator says "not found" for any name it does not store; say why this one cannot be.
  if (!isDnsLabel(name))
    throw new CliError(`name ${JSON.stringify(name)} is not a DNS-1123 label`, EXIT_INVALID);
  while (!signal.aborted) {
    const record = await getVmi(client, namespace, name);
    if (!record) throw new CliError(`vmi ${namespace}/${name} not found`, EXIT_INVALID);
    const node = record.status?.node || record.node || "";
    if (node) return node;
    if (!follow) {
      const why = record.pendingReason ? ` (${record.pendingReason})` : "";
      throw new CliError(
        `vmi/${name} has no console log yet: it is not placed on a host${why}`,
        EXIT_INVALID,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, PLACED_POLL_MS));
  }
  return "";
}

/** The call's result, or null once the signal aborts (the call is then left to fail unseen). */
function untilAborted<T>(call: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) {
    call.catch(() => {});
    return Promise.resolve(null);
  }
  return new Promise<T | null>((resolve, reject) => {
    const onAbort = () => {
      call.catch(() => {});
      resolve(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    call.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
