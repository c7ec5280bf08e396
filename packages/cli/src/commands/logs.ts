import { type Command, InvalidArgumentError } from "commander";
import { EXIT_CODES_HELP, EXIT_OK } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";

interface LogsOptions {
  follow?: boolean;
  tail?: number;
}

const HELP_AFTER = `
Prints the serial console of a VMI. It asks the launcher of the VMI's host
over NATS, so it works from any machine that can log in to headroom. Control
characters the guest writes are shown as visible escapes, never sent to the
terminal. -f keeps printing what the guest writes until Ctrl-C (exit 0); when
the VMI starts again with a new log, it goes on with that one.

A VMI headroom does not store, or one whose domain has not started yet (no
console log on its host), is exit 1.

${EXIT_CODES_HELP}

Examples:
  headroom logs vmi-iface-request-example
  headroom logs web -f --tail 20`;

/** `headroom logs NAME [-f] [--tail N]` */
export function registerLogs(program: Command): void {
  program
    .command("logs")
    .summary("print a VMI's serial console")
    .description("Print the serial console log of a VMI, read by the launcher of its host.")
    .argument("<name>", "the VMI")
    .option("-f, --follow", "keep printing new output until Ctrl-C")
    .option("--tail <lines>", "print only the last N lines first", parseLines)
    .addHelpText("after", HELP_AFTER)
    .action(async (name: string, options: LogsOptions, command: Command) => {
      const globals = globalsOf(command);
      const [{ withClient }, { printConsoleLog }] = await Promise.all([
        import("../client.ts"),
        import("../console-log.ts"),
      ]);
      // Ctrl-C (or SIGTERM) ends a follow; the output so far is complete.
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      try {
        await withClient(globals, (client) =>
          printConsoleLog(client, {
            namespace: globals.namespace,
            name,
            follow: Boolean(options.follow),
            ...(options.tail === undefined ? {} : { tail: options.tail }),
            signal: stop.signal,
            write: (text) => process.stdout.write(text),
          }),
        );
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }
      process.exitCode = EXIT_OK;
    });
}

/** Lines for --tail; the launcher looks back at most 1 MiB, however many are asked for. */
function parseLines(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError("write a number of lines, e.g. 20.");
  return Math.min(Number(text), 2 ** 31 - 1);
}
