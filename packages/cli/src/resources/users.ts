// People's logins (headroom user add, remove, list): kept in the state
// directory of this host's headroom up, and given to its nats-server at once.
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { addPerson, connect, personEnv, readPeople, removePerson } from "@headroom/bus";
import type { HostState } from "@headroom/host-state";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE } from "../exit-codes.ts";
import { reloadNats, rewriteNatsConfigs } from "../nats-config.ts";
import { formatAge, formatJson, formatTable } from "../output.ts";

type Say = (text: string) => void;

/** Gives the running server the people as they are now; what happened, in words. */
async function applyPeople(state: HostState): Promise<"reloaded" | "not running"> {
  const written = await rewriteNatsConfigs(state);
  if (written === 0 || !(await reloadNats(state))) return "not running";
  return "reloaded";
}

/**
 * Logs in with a new login until the reloaded server lets it in; undefined
 * then, else why not. A refusal (not reloaded yet) or a slow answer (a busy
 * host) is tried again, for ~30 s.
 */
async function loginFails(server: string, name: string, seed: string): Promise<string | undefined> {
  const deadline = Date.now() + 30_000;
  let reason = "";
  while (Date.now() < deadline) {
    try {
      const nc = await connect({
        name: "headroom-user-check",
        servers: server,
        user: name,
        seed,
        timeoutMs: 5000,
      });
      await nc.close();
      return undefined;
    } catch (error) {
      reason = (error as Error).message;
      await new Promise((done) => setTimeout(done, 250));
    }
  }
  return reason;
}

export async function addUser(
  state: HostState,
  server: string,
  name: string,
  out: string | undefined,
  say: Say,
): Promise<number> {
  const file = resolve(out ?? `${name}.env`);
  const { person, seed } = await addPerson(state.secrets, name).catch((error: Error) => {
    throw new CliError(error.message, EXIT_INVALID);
  });
  const lines = [
    `# headroom login of ${name}: keep it private (mode 600). Put it at`,
    "# <state-dir>/secrets/client.env, or set these variables, to use the CLI.",
    ...Object.entries(personEnv(name, seed)).map(([key, value]) => `${key}=${value}`),
    "",
  ];
  try {
    // Never over another file: it may be someone's login.
    await writeFile(file, lines.join("\n"), { mode: 0o600, flag: "wx" });
  } catch (error) {
    await removePerson(state.secrets, name);
    throw new CliError(`cannot write ${file}: ${(error as Error).message}`, EXIT_USAGE);
  }
  say(`user/${name} added (key ${person.nkey}); the login is in ${file}\n`);
  if ((await applyPeople(state)) === "not running") {
    say("headroom's nats-server is not running here: the login works from its next start\n");
  } else {
    const failure = await loginFails(server, name, seed);
    if (failure !== undefined) {
      say(
        `the server was told to reload, but ${server} does not let ${name} in yet (${failure})\n`,
      );
      return EXIT_UNREACHABLE;
    }
    say(`the server at ${server} lets ${name} in now\n`);
  }
  say(
    `Hand ${file} over privately; ${name} keeps it as <state-dir>/secrets/client.env ` +
      `(mode 600) on their machine, e.g. ~/.headroom/secrets/client.env with HEADROOM_STATE_DIR=~/.headroom.\n`,
  );
  return EXIT_OK;
}

export async function removeUser(state: HostState, name: string, say: Say): Promise<number> {
  if (!(await removePerson(state.secrets, name))) {
    throw new CliError(`user/${name} not found`, EXIT_INVALID);
  }
  const outcome = await applyPeople(state);
  say(
    outcome === "reloaded"
      ? `user/${name} removed; the server let go of their connections and refuses their login\n`
      : `user/${name} removed; headroom's nats-server is not running here, so nobody is connected\n`,
  );
  return EXIT_OK;
}

export async function listUsers(state: HostState, json: boolean, say: Say): Promise<number> {
  const people = await readPeople(state.secrets);
  if (json) {
    say(formatJson({ items: people }));
    return EXIT_OK;
  }
  if (people.length === 0) {
    say(`no users besides headroom's shared client login (${state.secrets}/client.env)\n`);
    return EXIT_OK;
  }
  const now = Date.now();
  const rows = people.map((p) => [p.name, formatAge(now - Date.parse(p.added)), p.nkey]);
  say(formatTable(["NAME", "AGE", "KEY"], rows));
  return EXIT_OK;
}
