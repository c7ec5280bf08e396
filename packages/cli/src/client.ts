// The one place the CLI talks to headroom over NATS: connecting, requests on
// the API subjects, reading the status bucket, and turning every failure into
// a CliError with the right exit code.

import { join } from "node:path";
import {
  ApiError,
  BUCKETS,
  CLIENT_CREDENTIALS_FILE,
  connect,
  decode,
  type MessageType,
  type NatsConnection,
  NotAuthorizedError,
  readClientCredentials,
  request,
  storeKey,
  TRANSIENT_RETRY_MS,
} from "@headroom/bus/client";
import { hostState } from "@headroom/host-state";
import { VmiStatus } from "@headroom/proto";
import type { KV } from "@nats-io/kv";
import { formatSeconds } from "./duration.ts";
import {
  CliError,
  EXIT_INVALID,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  exitCodeForApiError,
} from "./exit-codes.ts";

/** How long a read waits for its reply (it is asked three times). */
const READ_TIMEOUT_MS = 10_000;
/**
 * How long a change waits for its reply: longer than a service keeps trying
 * while a NATS cluster elects new leaders, so that a change made during one
 * is answered rather than timed out, leaving the user unsure it was made.
 */
const WRITE_TIMEOUT_MS = TRANSIENT_RETRY_MS + 10_000;
/**
 * How long a request no service received is sent again: a service whose NATS
 * server died is back on another one within this. Nothing was done, so
 * sending it again is safe, for changes too.
 */
const UNANSWERED_RETRY_MS = 3_000;
/** How long connecting may take before headroom counts as unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

export function unreachableMessage(url: string): string {
  return `cannot reach headroom at ${url}: is it running? start it with: npm start`;
}

/** A connection to headroom's NATS server, for one CLI command. */
export class HeadroomClient {
  #status: Promise<KV> | undefined;

  constructor(
    readonly nc: NatsConnection,
    /** The server as the user named it, for messages. */
    readonly url: string,
  ) {}

  /**
   * A request on an API subject. An error reply, no service answering or no
   * answer in time become a CliError (exit 1 or 3) saying so in plain words.
   * A read (`read: true`) that timed out is asked twice more: on a NATS
   * cluster that just lost a server, the service waits out an election. A
   * request no service received is sent again for a few seconds.
   */
  async call<RequestInit, Reply>(
    subject: string,
    requestType: MessageType<RequestInit, unknown>,
    value: RequestInit,
    replyType: MessageType<never, Reply>,
    options: { timeoutMs?: number; read?: boolean } = {},
  ): Promise<Reply> {
    const timeoutMs = options.timeoutMs ?? (options.read ? READ_TIMEOUT_MS : WRITE_TIMEOUT_MS);
    const resendUntil = Date.now() + UNANSWERED_RETRY_MS;
    for (let tries = options.read ? 3 : 1; ; tries--) {
      try {
        return await request(this.nc, subject, requestType, value, replyType, { timeoutMs });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.code === "TIMEOUT" && tries > 1) continue;
        // The client's own UNAVAILABLE (it has a cause): no service got the request.
        if (error.code === "UNAVAILABLE" && error.cause && Date.now() < resendUntil) {
          tries++;
          await new Promise((resolve) => setTimeout(resolve, 250));
          continue;
        }
        throw new CliError(
          this.#describe(error, subject, timeoutMs),
          exitCodeForApiError(error.code),
        );
      }
    }
  }

  /**
   * The VMI's status as the launcher last wrote it to the status bucket, or
   * null when there is none (never written, or removed with the domain).
   */
  async readStatus(namespace: string, name: string): Promise<VmiStatus | null> {
    // KV (and JetStream under it) is loaded by the commands that read statuses only.
    this.#status ??= import("@nats-io/kv").then(({ Kvm }) => new Kvm(this.nc).open(BUCKETS.status));
    let bucket: KV;
    try {
      bucket = await this.#status;
    } catch (error) {
      this.#status = undefined;
      throw new CliError(
        `cannot open the status bucket ${BUCKETS.status} at ${this.url}: ${(error as Error).message}`,
        EXIT_UNREACHABLE,
      );
    }
    const entry = await bucket.get(storeKey(namespace, name));
    if (entry?.operation !== "PUT") return null;
    try {
      return decode(VmiStatus, entry.value);
    } catch (error) {
      throw new CliError(
        `the status of vmi ${namespace}/${name} is unreadable: ${(error as Error).message}`,
        EXIT_INVALID,
      );
    }
  }

  close(): Promise<void> {
    return this.nc.close();
  }

  #describe(error: ApiError, subject: string, timeoutMs: number): string {
    switch (error.code) {
      case "UNAVAILABLE":
        return `headroom at ${this.url} has no service answering on ${subject}: is it running? start it with: npm start`;
      case "TIMEOUT":
        // A timeout here has the client's own error as its cause; one a service sent has its words.
        return error.cause
          ? `headroom at ${this.url} did not answer on ${subject} within ${formatSeconds(timeoutMs)}`
          : error.message;
      default:
        return error.message;
    }
  }
}

/**
 * Where the CLI's NATS user and key come from: HEADROOM_NATS_USER and
 * HEADROOM_NATS_SEED when set, else <state-dir>/secrets/client.env (made by
 * `headroom up`), else none (a server without authentication).
 */
export async function clientCredentials(
  stateDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ user?: string; seed?: string; nkey?: string; from: string }> {
  if (env.HEADROOM_NATS_USER) {
    return { from: "HEADROOM_NATS_USER and HEADROOM_NATS_SEED" };
  }
  const secrets = hostState({ HEADROOM_STATE_DIR: stateDir }).secrets;
  const file = join(secrets, CLIENT_CREDENTIALS_FILE);
  let missing: string;
  try {
    const found = await readClientCredentials(secrets);
    if (found) return { ...found, from: file };
    missing = "there is none";
  } catch (error) {
    // E.g. another user's state directory: the server says whether it needs a login.
    missing = (error as Error).message;
  }
  return { from: `${file} (${missing}) or HEADROOM_NATS_USER and HEADROOM_NATS_SEED` };
}

/** Connects to the NATS server at --server (comma-separated for several) as the client user. */
export async function connectClient(globals: {
  server: string;
  stateDir: string;
}): Promise<HeadroomClient> {
  const url = globals.server;
  const servers = url
    .split(",")
    .map((server) => server.trim())
    .filter((server) => server !== "");
  if (servers.length === 0) throw new CliError("--server needs a NATS URL", EXIT_USAGE);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CliError(unreachableMessage(url), EXIT_UNREACHABLE)),
      CONNECT_TIMEOUT_MS,
    );
  });
  const credentials = await clientCredentials(globals.stateDir);
  try {
    const nc = await Promise.race([
      connect({
        name: "headroom-cli",
        servers,
        user: credentials.user,
        seed: credentials.seed,
        nkey: credentials.nkey,
      }),
      timeout,
    ]);
    return new HeadroomClient(nc, url);
  } catch (error) {
    if (error instanceof CliError) throw error;
    if (error instanceof NotAuthorizedError) {
      throw new CliError(
        `headroom at ${url} refused to let this client in (${error.message}); ` +
          `the CLI takes its user and key from ${credentials.from}`,
        EXIT_UNREACHABLE,
      );
    }
    if (error instanceof TypeError) {
      throw new CliError(`--server ${url} is not a NATS URL (${error.message})`, EXIT_USAGE);
    }
    throw new CliError(unreachableMessage(url), EXIT_UNREACHABLE);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `work` with a connection to headroom and closes it afterwards. */
export async function withClient<T>(
  globals: { server: string; stateDir: string },
  work: (client: HeadroomClient) => Promise<T>,
): Promise<T> {
  const client = await connectClient(globals);
  try {
    return await work(client);
  } finally {
    await client.close().catch(() => {});
  }
}
