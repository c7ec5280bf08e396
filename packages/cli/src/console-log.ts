// `headroom logs`: a VMI's console log, read from the launcher of its host in
// chunks (headroom.api.v1.vmi.logs), each request answered once.
import { API_SUBJECTS, HOST_API, hostApiSubject } from "@headroom/bus/client";
import { ConsoleLogReply, ConsoleLogRequest, type IConsoleLogRequest } from "@headroom/proto";
import type { HeadroomClient } from "./client.ts";
import { ConsoleText } from "./output.ts";
import { getVmi } from "./resources/vmis.ts";

/** How long a following request asks the launcher to wait for new output. */
export const FOLLOW_WAIT_MS = 5_000;
/** How much longer than its wait a request may take before it counts as unanswered. */
const REPLY_MARGIN_MS = 10_000;

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
  // The VMI's own host answers once it is placed; before, any launcher.
  const record = await getVmi(client, namespace, name).catch(() => null);
  const node = record?.status?.node || record?.node || "";
  const subject = node ? hostApiSubject(node, HOST_API.consoleLog) : API_SUBJECTS.consoleLog;
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
