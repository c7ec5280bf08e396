import { type Command, InvalidArgumentError } from "commander";
import { CliError, EXIT_CODES_HELP, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import { globalsOf, hostStateOf } from "../globals.ts";
import { ConsoleText } from "../output.ts";
import { tailFile } from "../tail.ts";

interface LogsOptions {
  follow?: boolean;
  tail?: number;
}

const HELP_AFTER = `
Prints the serial console of a VMI, which the launcher writes to
<state-dir>/vms/<namespace>/<name>/console.log. It reads that file directly,
so it works on the host that runs the VMI, with the same --state-dir
(default $HEADROOM_STATE_DIR or /var/lib/headroom).

${EXIT_CODES_HELP}

Examples:
  headroom logs vmi-iface-request-example
  headroom logs web -f --tail 20`;

/** `headroom logs NAME [-f] [--tail N]` */
export function registerLogs(program: Command): void {
  program
    .command("logs")
    .summary("print a VMI's serial console (on this host)")
    .description("Print the serial console log of a VMI running on this host.")
    .argument("<name>", "the VMI")
    .option("-f, --follow", "keep printing new lines until Ctrl-C")
    .option("--tail <lines>", "print only the last N lines first", parseLines)
    .addHelpText("after", HELP_AFTER)
    .action(async (name: string, options: LogsOptions, command: Command) => {
      const globals = globalsOf(command);
      let path: string;
      try {
        path = hostStateOf(globals).consoleLog(globals.namespace, name);
      } catch (error) {
        throw new CliError(`vmi/${name}: ${(error as Error).message}`, EXIT_USAGE);
      }
      // The guest writes what it likes; the terminal gets it made visible.
      const text = new ConsoleText();
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await tailFile(path, {
          ...(options.tail === undefined ? {} : { lines: options.tail }),
          follow: Boolean(options.follow),
          signal: stop.signal,
          write: (chunk) => process.stdout.write(text.push(chunk)),
        });
        process.stdout.write(text.end());
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          throw new CliError(
            `vmi/${name} has no console log on this host (${path}): it has not started here`,
            EXIT_INVALID,
          );
        }
        throw new CliError(`cannot read ${path}: ${(error as Error).message}`, EXIT_INVALID);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      process.exitCode = EXIT_OK;
    });
}

function parseLines(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError("write a number of lines, e.g. 20.");
  return Number(text);
}
