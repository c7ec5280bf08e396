import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";
import type { ApplyOptions } from "../resources/apply.ts";

const DEFAULT_TIMEOUT = "120s";

const HELP_AFTER = `
Sends a VirtualMachineInstance to headroom's validator, which stores it when it
is valid; the domain composer and the launcher then build and start the VM.
The file is checked locally first, so mistakes are reported at once, each with
its field path. Applying the same file again is "unchanged"; an allowed change
(labels, interfaces and networks) is "configured"; the interface request and
everything else are immutable.

A manifest without metadata.namespace goes to -n (default "default"); one with
a namespace must agree with -n when -n is given.

--wait prints each status the VMI goes through (Pending, Scheduled, Running)
until it is Running (exit 0) or Failed (exit 1, with the reason), or --timeout
passes (exit 3).

${EXIT_CODES_HELP}

Examples:
  headroom apply -f examples/vmi-seed.yaml
  headroom apply -f examples/vmi-seed.yaml --wait --timeout 3m
  headroom apply -f vmi.yaml --dry-run
  cat vmi.yaml | headroom apply -f -`;

/** `headroom apply -f FILE [--wait] [--timeout 120s] [--dry-run]` */
export function registerApply(program: Command): void {
  program
    .command("apply")
    .summary("create or update a VirtualMachineInstance")
    .description("Create or update a VirtualMachineInstance from a YAML or JSON file.")
    .requiredOption("-f, --filename <file>", "the VMI as YAML or JSON; - reads stdin")
    .option("--wait", "wait until the VMI is Running, printing each status change")
    .option("--timeout <duration>", "how long --wait waits (e.g. 90s, 5m)", DEFAULT_TIMEOUT)
    .option("--dry-run", "validate on the server and say what would happen; store nothing")
    .addHelpText("after", HELP_AFTER)
    .action(async (options: ApplyOptions, command: Command) => {
      const { runApply } = await import("../resources/apply.ts");
      process.exitCode = await runApply(options, globalsOf(command));
    });
}
