// The NATS users of infra/nats/headroom.conf and their passwords. Each service
// connects as its own user, and the CLI (or any client) as "client"; the server
// config gives each only the subjects it needs. Passwords are random and kept
// in a secrets directory (0700) as two env-format files (0600):
//   nats.env    every password, as nats-server reads them (HEADROOM_NATS_PASSWORD_<USER>)
//   client.env  HEADROOM_NATS_USER=client and its password, for the CLI and other
//               clients; the one file to share (e.g. with a group) to let others in.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseEnv } from "node:util";

export const SERVER_CREDENTIALS_FILE = "nats.env";
export const CLIENT_CREDENTIALS_FILE = "client.env";

export const NATS_USERS = ["validator", "composer", "launcher", "client"] as const;
export type NatsUser = (typeof NATS_USERS)[number];

export type NatsCredentials = Record<NatsUser, string>;

/** The NATS user each service (by its directory under services/) connects as. */
export const SERVICE_USERS = {
  validator: "validator",
  "domain-composer": "composer",
  launcher: "launcher",
} as const satisfies Record<string, NatsUser>;

/** The environment variable infra/nats/headroom.conf reads a user's password from. */
export function passwordVariable(user: NatsUser): string {
  return `HEADROOM_NATS_PASSWORD_${user.toUpperCase()}`;
}

export function generateCredentials(): NatsCredentials {
  // nats-server parses a variable's value as config: a value that starts with
  // a digit is read as a number. A letter first and hex after stays a string.
  const password = () => `hr${randomBytes(24).toString("hex")}`;
  return Object.fromEntries(NATS_USERS.map((user) => [user, password()])) as NatsCredentials;
}

/**
 * Reads the credentials in a secrets directory; undefined when there are none
 * yet. The directory and nats.env must be this user's and private: a password
 * file others could read or replace is refused, saying how to fix it.
 */
export async function readCredentials(dir: string): Promise<NatsCredentials | undefined> {
  const file = join(dir, SERVER_CREDENTIALS_FILE);
  const values = await readEnvFile(file);
  if (!values) return undefined;
  await mustBePrivate(dir, 0o022, "chmod go-w");
  await mustBePrivate(file, 0o077, "chmod 600");
  const entries = NATS_USERS.map((user) => {
    const password = values[passwordVariable(user)];
    if (!password) throw new Error(`${file} has no ${passwordVariable(user)}`);
    return [user, password];
  });
  return Object.fromEntries(entries) as NatsCredentials;
}

/** User and password from a secrets directory's client.env; undefined when it does not exist. */
export async function readClientCredentials(
  dir: string,
): Promise<{ user: string; pass: string } | undefined> {
  const file = join(dir, CLIENT_CREDENTIALS_FILE);
  const values = await readEnvFile(file);
  if (!values) return undefined;
  const user = values.HEADROOM_NATS_USER;
  const pass = values.HEADROOM_NATS_PASSWORD;
  if (!user || !pass) {
    throw new Error(`${file} must set HEADROOM_NATS_USER and HEADROOM_NATS_PASSWORD`);
  }
  return { user, pass };
}

/**
 * The credentials in the secrets directory `dir`, made when there are none
 * yet: random passwords, files 0600 in a 0700 directory.
 */
export async function ensureCredentials(dir: string): Promise<NatsCredentials> {
  const existing = await readCredentials(dir);
  if (existing) return existing;
  const credentials = generateCredentials();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const write = async (name: string, title: string, values: Record<string, string>) => {
    const lines = [title, ...Object.entries(values).map(([key, value]) => `${key}=${value}`), ""];
    // "wx": never overwrite; a concurrent first start loses and reads the winner's file.
    await writeFile(join(dir, name), lines.join("\n"), { mode: 0o600, flag: "wx" });
  };
  try {
    await write(
      SERVER_CREDENTIALS_FILE,
      "# Passwords of headroom's NATS users, read by infra/nats/headroom.conf. Keep private.",
      serverEnv(credentials),
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return (await readCredentials(dir)) as NatsCredentials;
  }
  await write(
    CLIENT_CREDENTIALS_FILE,
    "# How a client (the headroom CLI) logs in to headroom's NATS.",
    userEnv(credentials, "client"),
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  return credentials;
}

/** What nats-server needs in its environment to load infra/nats/headroom.conf. */
export function serverEnv(credentials: NatsCredentials): Record<string, string> {
  return Object.fromEntries(NATS_USERS.map((user) => [passwordVariable(user), credentials[user]]));
}

/** What a process connecting as `user` needs in its environment (read by connect()). */
export function userEnv(
  credentials: NatsCredentials,
  user: NatsUser,
): { HEADROOM_NATS_USER: string; HEADROOM_NATS_PASSWORD: string } {
  return { HEADROOM_NATS_USER: user, HEADROOM_NATS_PASSWORD: credentials[user] };
}

/** Refuses `path` unless this user owns it and none of `forbidden`'s mode bits are set. */
async function mustBePrivate(path: string, forbidden: number, fix: string): Promise<void> {
  const info = await stat(path);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(
      `${path} belongs to uid ${info.uid}, not to this user (uid ${uid}): headroom keeps its passwords only in files of its own`,
    );
  }
  const mode = info.mode & 0o777;
  if (mode & forbidden) {
    const what = forbidden === 0o077 ? "readable by others" : "writable by others";
    throw new Error(
      `${path} is ${what} (mode ${mode.toString(8).padStart(4, "0")}): run ${fix} ${path}`,
    );
  }
}

async function readEnvFile(file: string): Promise<Record<string, string | undefined> | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseEnv(text);
}
