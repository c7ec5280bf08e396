import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf, hostStateOf } from "../globals.ts";

const HELP_AFTER = `
A VMI may name images in registries that want a login. Give headroom the
login on each host that pulls (as the state directory's owner): it is
checked against the registry, then kept in <state-dir>/secrets/registries.json
(mode 600), where the host's launcher reads it at each pull. A login never
goes into a VMI, and never into a log.

The password is read from stdin (never from the command line, where other
users could see it in the process list).

${EXIT_CODES_HELP}

Examples:
  echo "$PASSWORD" | sudo headroom registry login quay.io -u robot --password-stdin
  sudo headroom registry logout quay.io`;

/** `headroom registry login HOST -u USER --password-stdin`, `headroom registry logout HOST` */
export function registerRegistry(program: Command): void {
  const registry = program
    .command("registry")
    .summary("logins to OCI registries that hosts pull images from")
    .description("Keep or forget this host's login to a registry.")
    .addHelpText("after", HELP_AFTER);
  registry
    .command("login")
    .description("Check a login against REGISTRY and keep it for this host's pulls.")
    .argument("<registry>", "registry host[:port], as image references name it")
    .requiredOption("-u, --username <user>", "the registry user")
    .requiredOption("--password-stdin", "read the password from stdin")
    .option(
      "--insecure-registry",
      "may be reached over plain HTTP (loopback registries always may)",
    )
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(
      async (
        host: string,
        options: { username: string; insecureRegistry?: boolean },
        command: Command,
      ) => {
        const { registryLogin } = await import("../resources/registries.ts");
        process.exitCode = await registryLogin(hostStateOf(globalsOf(command)), host, {
          username: options.username,
          insecure: options.insecureRegistry === true,
          write: (text) => process.stdout.write(text),
        });
      },
    );
  registry
    .command("logout")
    .description("Forget this host's login to REGISTRY.")
    .argument("<registry>", "registry host[:port]")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (host: string, _options: unknown, command: Command) => {
      const { registryLogout } = await import("../resources/registries.ts");
      process.exitCode = await registryLogout(hostStateOf(globalsOf(command)), host, (text) =>
        process.stdout.write(text),
      );
    });
}
