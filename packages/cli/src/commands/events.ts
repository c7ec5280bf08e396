import { type Command, Option } from "commander";
import { CliError, EXIT_CODES_HELP, EXIT_OK } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";
import type { EventScope } from "../resources/events.ts";

interface EventsOptions {
  follow?: boolean;
  vmi?: string;
  allNamespaces?: boolean;
  output: "table" | "json";
}

const HELP_AFTER = `
Capacity events tell how each VMI's reserved room for network interfaces is
used: reserved (the VM started with room for EFFECTIVE interfaces), attached
and detached (a NIC hot-plugged or unplugged), exhausted (an attach refused:
no room left), released (the VMI was deleted). They are kept in headroom's
event stream and printed oldest first.

Without --follow the command prints the stored events and exits; with it, it
keeps printing new ones until Ctrl-C. -o json prints one JSON object per line
({"time", "type", "namespace", "name", "uid", "interfaceName", "requested",
"effective", "inUse", "free", "controllersAdded", "node", "message",
"timestampUnixMs"}), for scripts.

${EXIT_CODES_HELP}

Examples:
  headroom events
  headroom events --vmi vmi-iface-request-example
  headroom events -A -f
  headroom events -f -o json | jq .type`;

/** `headroom events [--follow] [--vmi NAME] [-A] [-o json]` */
export function registerEvents(program: Command): void {
  program
    .command("events")
    .summary("print capacity events (reserved, attached, detached, exhausted, released)")
    .description("Print the capacity events of the VMIs of a namespace, of one VMI, or of all.")
    .option("-f, --follow", "after the stored events, print new ones as they come, until Ctrl-C")
    .option("--vmi <name>", "only this VMI's events")
    .option("-A, --all-namespaces", "events of every namespace")
    .addOption(
      new Option("-o, --output <format>", "print json (one object per line) instead of a table")
        .choices(["json"])
        .default("table", "a table"),
    )
    .addHelpText("after", HELP_AFTER)
    .action(async (options: EventsOptions, command: Command) => {
      const globals = globalsOf(command);
      if (options.vmi !== undefined && options.allNamespaces) {
        throw new CliError("--vmi names a VMI of one namespace (-n); it does not go with -A");
      }
      const scope: EventScope = options.allNamespaces
        ? {}
        : {
            namespace: globals.namespace,
            ...(options.vmi === undefined ? {} : { name: options.vmi }),
          };
      const [{ withClient }, { readEvents }, { jsonPrinter, tablePrinter }] = await Promise.all([
        import("../client.ts"),
        import("../resources/events.ts"),
        import("../event-view.ts"),
      ]);
      const write = (text: string) => process.stdout.write(text);
      const follow = Boolean(options.follow);
      const printer =
        options.output === "json" ? jsonPrinter(write) : tablePrinter(write, scope, follow);

      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await withClient(globals, (client) =>
          readEvents(client, scope, {
            follow,
            signal: stop.signal,
            onStored: printer.stored,
            onEvent: printer.next,
          }),
        );
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      // Ctrl-C is how --follow is meant to end.
      process.exitCode = EXIT_OK;
    });
}
