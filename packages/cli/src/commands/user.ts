import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf, hostStateOf } from "../globals.ts";
import { outputOption } from "../output.ts";

const HELP_AFTER = `
Everyone given <state-dir>/secrets/client.env logs in as the one user
"client", and shares its reply subjects. A user of their own has the same
rights (the public API, statuses and capacity events read-only, images) and
replies nobody else can read; removing it shuts that person out alone.

These commands work on this host's headroom up: its state directory
(--state-dir) holds the list (secrets/people.json, public keys only), and its
nats-server is told to reload at once. Run them as the state directory's
owner. The new login (the only copy of its secret) is written to --out, or
to NAME.env here; hand it over privately. On their machine it goes to
<state-dir>/secrets/client.env (mode 600), or its two variables
HEADROOM_NATS_USER and HEADROOM_NATS_SEED into the environment.

${EXIT_CODES_HELP}

Examples:
  sudo headroom user add alice --out /tmp/alice.env
  headroom user list
  sudo headroom user remove alice`;

/** `headroom user add|remove|list` */
export function registerUser(program: Command): void {
  const user = program
    .command("user")
    .summary("give people NATS logins of their own, and take them back")
    .description("Manage the people who may use this host's headroom.")
    .addHelpText("after", HELP_AFTER);
  user
    .command("add")
    .description("Make a login for NAME and let the running server take it.")
    .argument("<name>", "a DNS-1123 label, at most 32 characters")
    .option("--out <file>", "where to write the login (default: NAME.env here); never overwritten")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (name: string, options: { out?: string }, command: Command) => {
      const globals = globalsOf(command);
      const { addUser } = await import("../resources/users.ts");
      process.exitCode = await addUser(
        hostStateOf(globals),
        globals.server,
        name,
        options.out,
        say,
      );
    });
  user
    .command("remove")
    .description("Remove NAME's login: the server drops their connections and refuses it.")
    .argument("<name>", "a user made with headroom user add")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (name: string, _options: unknown, command: Command) => {
      const { removeUser } = await import("../resources/users.ts");
      process.exitCode = await removeUser(hostStateOf(globalsOf(command)), name, say);
    });
  user
    .command("list")
    .description("List the people with a login of their own.")
    .addOption(outputOption(["json"]))
    .action(async (options: { output?: string }, command: Command) => {
      const { listUsers } = await import("../resources/users.ts");
      process.exitCode = await listUsers(
        hostStateOf(globalsOf(command)),
        options.output === "json",
        say,
      );
    });
}

function say(text: string): void {
  process.stdout.write(text);
}
