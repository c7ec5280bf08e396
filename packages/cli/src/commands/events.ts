import type { ICapacityEvent } from "@headroom/proto";
import { type Command, Option } from "commander";
import { withClient } from "../client.ts";
import { EVENT_COLUMNS, eventObject, eventRow } from "../event-view.ts";
import { CliError, EXIT_CODES_HELP, EXIT_OK } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";
import { columnWidths, formatRow } from "../output.ts";
import { type EventScope, readEvents } from "../resources/events.ts";

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

interface Printer {
  stored(events: ICapacityEvent[]): void;
  next(event: ICapacityEvent): void;
}

function jsonPrinter(write: (text: string) => void): Printer {
  const line = (event: ICapacityEvent) => write(`${JSON.stringify(eventObject(event))}\n`);
  return { stored: (events) => events.forEach(line), next: line };
}

/**
 * The stored events as one table; with --follow, later ones are printed as
 * they come in the columns the first rows set (as kubectl get --watch does),
 * wide enough for the usual cells when there were none.
 */
function tablePrinter(write: (text: string) => void, scope: EventScope, follow: boolean): Printer {
  let widths: number[] = [];
  let headerPrinted = false;
  const print = (rows: string[][]) => {
    const lines = headerPrinted ? rows : [EVENT_COLUMNS, ...rows];
    headerPrinted = true;
    write(`${lines.map((row) => formatRow(row, widths)).join("\n")}\n`);
  };
  return {
    stored(events) {
      const rows = events.map((event) => eventRow(eventObject(event)));
      const typical = [
        "2006-01-02T15:04:05Z",
        scope.name === undefined ? "" : `${scope.namespace}/${scope.name}`,
        "exhausted",
        "<none>",
        "<none>",
      ];
      widths = columnWidths(EVENT_COLUMNS, follow ? [...rows, typical] : rows);
      if (rows.length > 0) {
        print(rows);
        return;
      }
      // As kubectl: nothing on stdout, so scripts see no events as empty.
      const where =
        scope.namespace === undefined
          ? ""
          : scope.name === undefined
            ? ` in ${scope.namespace} namespace`
            : ` for vmi/${scope.name} in ${scope.namespace} namespace`;
      process.stderr.write(
        follow
          ? `No events yet${where}; waiting for new ones (Ctrl-C to stop).\n`
          : `No events found${where}.\n`,
      );
    },
    next(event) {
      print([eventRow(eventObject(event))]);
    },
  };
}
