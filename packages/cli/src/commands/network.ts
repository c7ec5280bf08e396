import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";

interface CreateOptions {
  bridge: string;
}

const HELP_AFTER = `
A network attachment gives a multus networkName (spec.networks[].multus.networkName
of a VMI) a host Linux bridge: the VMI's bridge-bound interfaces on that
network join it. The launcher creates the bridge, without an uplink, when the
host has none. A network's bridge cannot change: delete it, then create it
again. A network that stored VMIs use cannot be deleted.

List networks with "headroom get networks", remove one with
"headroom delete network NAME".

${EXIT_CODES_HELP}

Examples:
  headroom network create headroom-bridge --bridge hrbr0
  headroom get networks`;

/** `headroom network create NAME --bridge BRIDGE` */
export function registerNetwork(program: Command): void {
  const network = program
    .command("network")
    .summary("manage network attachments (multus networks → host bridges)")
    .description("Manage the networks VMI interfaces can join.")
    .addHelpText("after", HELP_AFTER);
  network
    .command("create")
    .description("Create a network attachment: NAME joins the host bridge BRIDGE.")
    .argument("<name>", "the multus networkName VMIs use (a DNS-1123 label)")
    .requiredOption("--bridge <bridge>", "host Linux bridge, 1-15 of [A-Za-z0-9_-]")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const globals = globalsOf(command);
      const [{ withClient }, { createNetwork }] = await Promise.all([
        import("../client.ts"),
        import("../resources/networks.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        createNetwork(client, name, options.bridge, (text) => process.stdout.write(text)),
      );
    });
}
