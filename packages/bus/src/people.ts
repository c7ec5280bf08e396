// Logins of people: each person given access gets a client user of their own,
// with the client's rights and replies on an inbox prefix nobody else may
// read (_INBOX_<name>). The server holds their public keys only; the seed is
// handed to the person once and kept nowhere else.
//
// The people are listed in <secrets>/people.json. nats-server reads them from
// a configuration written next to its store (<state>/nats/server.conf): the
// shipped configuration, included, and an authorization block with headroom's
// users and one user per person. `headroom user add|remove` rewrite it and
// signal the running server to reload it.
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createUser } from "@nats-io/nkeys";
import { mustBePrivate, NATS_USERS, nkeyVariable, publicKeyOf } from "./credentials.ts";

export const PEOPLE_FILE = "people.json";

export interface Person {
  name: string;
  /** The public key ("U…") the person logs in with. */
  nkey: string;
  /** When the login was made (ISO 8601). */
  added: string;
}

// A DNS-1123 label, at most 32 characters: it becomes a NATS user and a subject token.
const PERSON_NAME = /^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/;
const PUBLIC_KEY = /^U[A-Z2-7]{55}$/;

/** Why `name` cannot name a person's login, or undefined when it can. */
export function personNameProblem(name: string): string | undefined {
  if (!PERSON_NAME.test(name))
    return `"${name.slice(0, 40)}" must be 1 to 32 lower-case letters, digits or "-", starting and ending with a letter or digit`;
  if ((NATS_USERS as readonly string[]).includes(name))
    return `"${name}" is one of headroom's own users (${NATS_USERS.join(", ")})`;
  return undefined;
}

/** The people with a login, from a secrets directory; none when the file does not exist. */
export async function readPeople(secretsDir: string): Promise<Person[]> {
  const file = join(secretsDir, PEOPLE_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  // Whoever may write it may let anyone in.
  await mustBePrivate(file, 0o022, "chmod go-w");
  const people: unknown = JSON.parse(text);
  if (!Array.isArray(people)) throw new Error(`${file} must hold a JSON array`);
  return people.map((entry, i) => {
    const { name, nkey, added } = (entry ?? {}) as Partial<Person>;
    if (typeof name !== "string" || personNameProblem(name) !== undefined)
      throw new Error(`${file}: entry ${i} has no valid name`);
    if (typeof nkey !== "string" || !PUBLIC_KEY.test(nkey))
      throw new Error(`${file}: ${name} has no valid public key`);
    return { name, nkey, added: String(added ?? "") };
  });
}

async function writePeople(secretsDir: string, people: readonly Person[]): Promise<void> {
  const file = join(secretsDir, PEOPLE_FILE);
  const fresh = `${file}.${randomBytes(4).toString("hex")}`;
  await writeFile(fresh, `${JSON.stringify(people, null, 2)}\n`, { mode: 0o600, flag: "wx" });
  await rename(fresh, file);
}

/** Adds a person; resolves with their seed, which is kept nowhere else. */
export async function addPerson(
  secretsDir: string,
  name: string,
  now = new Date(),
): Promise<{ person: Person; seed: string }> {
  const problem = personNameProblem(name);
  if (problem) throw new Error(`user name ${problem}`);
  const people = await readPeople(secretsDir);
  if (people.some((p) => p.name === name))
    throw new Error(`user ${name} already has a login; remove it first to give a new one`);
  const seed = new TextDecoder().decode(createUser().getSeed());
  const person = { name, nkey: publicKeyOf(seed), added: now.toISOString() };
  await writePeople(secretsDir, [...people, person]);
  return { person, seed };
}

/** Removes a person's login; false when there was none. */
export async function removePerson(secretsDir: string, name: string): Promise<boolean> {
  const people = await readPeople(secretsDir);
  const kept = people.filter((p) => p.name !== name);
  if (kept.length === people.length) return false;
  await writePeople(secretsDir, kept);
  return true;
}

/** What a person's login file holds (read by connect(), like client.env). */
export function personEnv(name: string, seed: string): Record<string, string> {
  return {
    HEADROOM_NATS_USER: name,
    HEADROOM_NATS_SEED: seed,
    HEADROOM_NATS_NKEY: publicKeyOf(seed),
  };
}

/**
 * nats-server's configuration for a state directory: `include` (the shipped
 * configuration, as a path relative to this file's directory: nats-server
 * takes no other), its pid file, and every user. Names and keys are checked
 * before they get here; nothing else varies.
 */
export function serverConfig(include: string, pidFile: string, people: readonly Person[]): string {
  const quoted = (text: string) => JSON.stringify(text);
  const users = NATS_USERS.map(
    (user) => `    { nkey: $${nkeyVariable(user)}, permissions: $${user.toUpperCase()} }`,
  );
  for (const person of people) {
    if (personNameProblem(person.name) || !PUBLIC_KEY.test(person.nkey))
      throw new Error(`not a person's login: ${quoted(person.name)}`);
    users.push(
      `    # ${person.name}, since ${person.added}`,
      `    { nkey: ${person.nkey}, permissions: { publish: $CLIENT_PUBLISH, subscribe: { allow: [${quoted(`_INBOX_${person.name}.>`)}] } } }`,
    );
  }
  return [
    "# Written by headroom (headroom up, headroom user add and remove); edits are lost.",
    "# The shipped configuration, and its users with one client user per person.",
    `include ${quoted(include)}`,
    `pid_file: ${quoted(pidFile)}`,
    "authorization {",
    "  users: [",
    ...users,
    "  ]",
    "}",
    "",
  ].join("\n");
}
