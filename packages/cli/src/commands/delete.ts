import type { Command } from "commander";
import { parseDuration } from "../duration.ts";
import { CliError, EXIT_CODES_HELP, EXIT_INVALID } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";
import { KIND_NAMES, type Kind } from "../resources/kinds.ts";
import { parseKind } from "./get.ts";

interface DeleteOptions {
  wait?: boolean;
  timeout: string;
}

const HELP_AFTER = `
Resources: ${KIND_NAMES}.

Deleting a VMI removes it from headroom at once; the launcher then tears its
domain down and gives its capacity back. --wait waits for that (until the
VMI's status is gone), at most --timeout (exit 3 after).

Images are removed from headroom's image store; one that a VMI boots from is
refused (exit 1) until those VMIs are deleted. Hosts keep the copies they hold.

${EXIT_CODES_HELP}

Examples:
  headroom delete vmi web
  headroom delete vmi web --wait
  headroom delete image headroom/tiny-guest
  headroom delete network lab
  headroom delete volume data`;

/** `headroom delete vmi|image|network NAME [--wait] [--timeout 120s]` */
export function registerDelete(program: Command): void {
  program
    .command("delete")
    .summary("delete a VMI, an image, a network or a volume")
    .description("Delete a VMI, an image, a network or a volume.")
    .argument("<resource>", "vmi, image, network or volume", parseKind)
    .argument("<name>", "what to delete")
    .option("--wait", "VMIs: wait until the launcher has removed the domain")
    .option("--timeout <duration>", "how long --wait waits (e.g. 90s, 5m)", "120s")
    .addHelpText("after", HELP_AFTER)
    .action(async (kind: Kind, name: string, options: DeleteOptions, command: Command) => {
      const globals = globalsOf(command);
      const timeoutMs = parseDuration(options.timeout);
      const write = (text: string) => process.stdout.write(text);
      if (options.wait && kind !== "vmi") {
        throw new CliError(
          "--wait applies to VMIs only; images, networks and volumes are gone when delete returns",
        );
      }
      switch (kind) {
        case "vmi": {
          const [{ withClient }, { deleteVmi }] = await Promise.all([
            import("../client.ts"),
            import("../resources/vmis.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            deleteVmi(client, {
              namespace: globals.namespace,
              name,
              wait: Boolean(options.wait),
              timeoutMs,
              write,
            }),
          );
          return;
        }
        case "image": {
          const [{ withClient }, { deleteImage }] = await Promise.all([
            import("../client.ts"),
            import("../resources/images.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            deleteImage(client, name, write),
          );
          return;
        }
        case "network": {
          const [{ withClient }, { deleteNetwork }] = await Promise.all([
            import("../client.ts"),
            import("../resources/networks.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            deleteNetwork(client, name, write),
          );
          return;
        }
        case "node":
          throw new CliError(
            `node/${name} is its launcher's record of its host: stop that launcher, and the node turns NotReady`,
            EXIT_INVALID,
          );
        case "volume": {
          const [{ withClient }, { deleteVolume }] = await Promise.all([
            import("../client.ts"),
            import("../resources/volumes.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            deleteVolume(client, name, write),
          );
          return;
        }
      }
    });
}
