import { createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { fromSeed } from "@nats-io/nkeys";
import {
  type Authenticator,
  AuthorizationError,
  type ConnectionOptions,
  type NatsConnection,
  connect as natsConnect,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import type { Logger } from "./logger.ts";

export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

export interface ConnectOptions {
  /** Connection name, shown by the server (e.g. the service name). */
  name: string;
  /** Default: HEADROOM_NATS_URL (comma-separated) or nats://127.0.0.1:4222. */
  servers?: string | string[];
  /** Which of headroom's users this is (it names the reply prefix). Default: HEADROOM_NATS_USER. */
  user?: string;
  /** The user's NKEY seed ("SU…"), signed with at login. Default: HEADROOM_NATS_SEED. */
  seed?: string;
  /** The seed's public key ("U…"): with it, logging in skips deriving it. Default: HEADROOM_NATS_NKEY. */
  nkey?: string;
  /**
   * Prefix of this connection's reply subjects. Default: HEADROOM_NATS_INBOX_PREFIX,
   * else `_INBOX_<user>` with a user (infra/nats/headroom.conf lets each user
   * subscribe to its own inboxes only), else `_INBOX`.
   */
  inboxPrefix?: string;
  /**
   * Keep trying when no server answers at start (services). Default false:
   * connect() rejects at once (CLI, tests).
   */
  waitForServer?: boolean;
  /** How long one dial may take, handshake included (default 20 s, nats.js's). */
  timeoutMs?: number;
  /** Logs disconnects and reconnects. */
  log?: Logger;
  /** Where HEADROOM_NATS_* are read from (default process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * Connects to NATS. Reconnects forever, waiting 250 ms at first and up to 5 s
 * as an outage goes on. TLS when HEADROOM_NATS_TLS_CA, _CERT or _KEY name
 * files. A server that refuses the login rejects with NotAuthorizedError.
 */
export async function connect(options: ConnectOptions): Promise<NatsConnection> {
  const env = options.env ?? process.env;
  const servers = options.servers ?? (env.HEADROOM_NATS_URL || DEFAULT_NATS_URL).split(",");
  const user = options.user ?? env.HEADROOM_NATS_USER;
  const seed = options.seed ?? env.HEADROOM_NATS_SEED;
  const nkey = options.nkey ?? env.HEADROOM_NATS_NKEY;
  const tls = tlsFromEnv(env);
  const inboxPrefix =
    options.inboxPrefix ??
    (env.HEADROOM_NATS_INBOX_PREFIX || (user ? `_INBOX_${user}` : undefined));

  let outageStart = 0;
  const connection: ConnectionOptions = {
    name: options.name,
    servers,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: options.waitForServer ?? false,
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    // Called on every dial attempt: the wait grows with the outage, not with
    // the number of calls.
    reconnectDelayHandler: () => {
      const now = Date.now();
      if (outageStart === 0) outageStart = now;
      return Math.min(5000, 250 + (now - outageStart) / 4) + Math.random() * 100;
    },
    // The server sends a nonce and checks its signature: the seed never leaves.
    ...(seed ? { authenticator: nkeyLogin(seed, nkey) } : {}),
    ...(inboxPrefix ? { inboxPrefix } : {}),
    ...(tls ? { tls } : {}),
  };
  let nc: NatsConnection;
  try {
    nc = await natsConnect(connection);
  } catch (error) {
    if (isAuthorizationError(error)) {
      throw new NotAuthorizedError(
        seed
          ? `NATS refused user "${user ?? "?"}": its key is not one of this server's users`
          : "NATS wants a login: set HEADROOM_NATS_USER and HEADROOM_NATS_SEED",
        { cause: error },
      );
    }
    throw error;
  }
  outageStart = 0;
  options.log?.info({ server: nc.getServer(), name: options.name }, "connected to NATS");
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect")
        options.log?.warn({ server: status.server }, "NATS disconnected");
      if (status.type === "reconnect") {
        outageStart = 0;
        options.log?.info({ server: status.server }, "NATS reconnected");
      }
      if (status.type === "error") options.log?.error({ err: status.error }, "NATS error");
    }
  })();
  return nc;
}

// The DER header of an ed25519 private key in PKCS#8 (RFC 8410), before its 32-byte seed.
const ED25519_PKCS8 = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * An NKEY login whose nonce is signed by Node's native ed25519: nats.js signs
 * in plain JavaScript, about 50 ms a login, most of a CLI command's start.
 * @nats-io/nkeys decodes the seed. Without the public key, nats.js's own.
 */
function nkeyLogin(seed: string, publicKey: string | undefined): Authenticator {
  const bytes = new TextEncoder().encode(seed);
  const pair = fromSeed(bytes) as ReturnType<typeof fromSeed> & { getRawSeed?: () => Uint8Array };
  if (!publicKey || !pair.getRawSeed) return nkeyAuthenticator(bytes);
  const key = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8, pair.getRawSeed()]),
    format: "der",
    type: "pkcs8",
  });
  return (nonce?: string) => ({
    nkey: publicKey,
    sig: nonce ? sign(null, Buffer.from(nonce), key).toString("base64url") : "",
  });
}

/** The server refused the connection's credentials. */
export class NotAuthorizedError extends Error {
  override name = "NotAuthorizedError";
}

function isAuthorizationError(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof AuthorizationError || /authorization violation/i.test(e.message)) {
      return true;
    }
  }
  return false;
}

function tlsFromEnv(env: Record<string, string | undefined>) {
  const caFile = env.HEADROOM_NATS_TLS_CA;
  const certFile = env.HEADROOM_NATS_TLS_CERT;
  const keyFile = env.HEADROOM_NATS_TLS_KEY;
  if (!caFile && !certFile && !keyFile) return undefined;
  // Read here so that a wrong path fails at start with the variable's name.
  const read = (variable: string, path: string | undefined) => {
    if (!path) return undefined;
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new Error(`${variable}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  return {
    ca: read("HEADROOM_NATS_TLS_CA", caFile),
    cert: read("HEADROOM_NATS_TLS_CERT", certFile),
    key: read("HEADROOM_NATS_TLS_KEY", keyFile),
  };
}
