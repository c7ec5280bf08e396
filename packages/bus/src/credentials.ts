// The NATS users of infra/nats/headroom.conf and their keys. Each service
// connects as its own user, and the CLI (or any client) as "client"; the server
// config gives each only the subjects it needs. Logins are NKEYs: the server
// knows each user's public key and checks a signature of its challenge, so it
// never learns a secret, and a server that is not headroom's learns nothing
// reusable either. The seeds (the secrets) are random and kept in a secrets
// directory (0700) as two env-format files (0600):
//   nats.env    every public key (HEADROOM_NATS_NKEY_<USER>, what nats-server
//               reads) and every seed (HEADROOM_NATS_SEED_<USER>, for the services)
//   client.env  HEADROOM_NATS_USER=client and its seed, for the CLI and other
//               clients; the one file to share (e.g. with a group) to let others in.
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseEnv } from "node:util";
import { createUser, fromSeed } from "@nats-io/nkeys";

export const SERVER_CREDENTIALS_FILE = "nats.env";
export const CLIENT_CREDENTIALS_FILE = "client.env";

export const NATS_USERS = ["validator", "composer", "launcher", "client"] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** Each user's NKEY seed ("SU…"), the secret it logs in with. */
export type NatsCredentials = Record<NatsUser, string>;

/** The NATS user each service (by its directory under services/) connects as. */
export const SERVICE_USERS = {
  validator: "validator",
  "domain-composer": "composer",
  launcher: "launcher",
} as const satisfies Record<string, NatsUser>;

/** The environment variable infra/nats/headroom.conf reads a user's public key from. */
export function nkeyVariable(user: NatsUser): string {
  return `HEADROOM_NATS_NKEY_${user.toUpperCase()}`;
}

/** The variable of nats.env that holds a user's seed. */
export function seedVariable(user: NatsUser): string {
  return `HEADROOM_NATS_SEED_${user.toUpperCase()}`;
}

/** The public key ("U…") of a user seed. */
export function publicKeyOf(seed: string): string {
  return fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

export function generateCredentials(): NatsCredentials {
  const seed = () => new TextDecoder().decode(createUser().getSeed());
  return Object.fromEntries(NATS_USERS.map((user) => [user, seed()])) as NatsCredentials;
}

/**
 * Reads the credentials in a secrets directory; undefined when there are none
 * yet. The directory and nats.env must be this user's and private: a key file
 * others could read or replace is refused, saying how to fix it.
 */
export async function readCredentials(dir: string): Promise<NatsCredentials | undefined> {
  const file = join(dir, SERVER_CREDENTIALS_FILE);
  const values = await readEnvFile(file);
  if (!values) return undefined;
  await mustBePrivate(dir, 0o022, "chmod go-w");
  await mustBePrivate(file, 0o077, "chmod 600");
  if (!values[seedVariable("client")] && values.HEADROOM_NATS_PASSWORD_CLIENT) {
    throw new Error(
      `${file} holds passwords from an earlier headroom, which now logs in with NKEYs: ` +
        `remove ${dir} and start again to make keys (hand out the new client.env)`,
    );
  }
  const entries = NATS_USERS.map((user) => {
    const seed = values[seedVariable(user)];
    if (!seed) throw new Error(`${file} has no ${seedVariable(user)}`);
    return [user, seed];
  });
  return Object.fromEntries(entries) as NatsCredentials;
}

/** User, seed and public key from a secrets directory's client.env; undefined when it does not exist. */
export async function readClientCredentials(
  dir: string,
): Promise<{ user: string; seed: string; nkey?: string } | undefined> {
  const file = join(dir, CLIENT_CREDENTIALS_FILE);
  const values = await readEnvFile(file);
  if (!values) return undefined;
  const user = values.HEADROOM_NATS_USER;
  const seed = values.HEADROOM_NATS_SEED;
  if (!user || !seed) {
    throw new Error(`${file} must set HEADROOM_NATS_USER and HEADROOM_NATS_SEED`);
  }
  const nkey = values.HEADROOM_NATS_NKEY;
  return { user, seed, ...(nkey ? { nkey } : {}) };
}

/**
 * The credentials in the secrets directory `dir`, made when there are none
 * yet: random seeds, files 0600 in a 0700 directory.
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
  const seeds = Object.fromEntries(
    NATS_USERS.map((user) => [seedVariable(user), credentials[user]]),
  );
  try {
    await write(
      SERVER_CREDENTIALS_FILE,
      "# headroom's NATS logins: public keys for infra/nats/headroom.conf, and the seeds. Keep private.",
      { ...serverEnv(credentials), ...seeds },
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

/** What nats-server needs in its environment to load infra/nats/headroom.conf: public keys only. */
export function serverEnv(credentials: NatsCredentials): Record<string, string> {
  return Object.fromEntries(
    NATS_USERS.map((user) => [nkeyVariable(user), publicKeyOf(credentials[user])]),
  );
}

/** What a process connecting as `user` needs in its environment (read by connect()). */
export function userEnv(
  credentials: NatsCredentials,
  user: NatsUser,
): { HEADROOM_NATS_USER: string; HEADROOM_NATS_SEED: string; HEADROOM_NATS_NKEY: string } {
  const seed = credentials[user];
  return {
    HEADROOM_NATS_USER: user,
    HEADROOM_NATS_SEED: seed,
    // The public key too, so a login need not derive it from the seed.
    HEADROOM_NATS_NKEY: publicKeyOf(seed),
  };
}

/** Refuses `path` unless this user owns it and none of `forbidden`'s mode bits are set. */
export async function mustBePrivate(path: string, forbidden: number, fix: string): Promise<void> {
  const info = await stat(path);
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new Error(
      `${path} belongs to uid ${info.uid}, not to this user (uid ${uid}): headroom keeps its keys only in files of its own`,
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
