import { Command, CommanderError } from "commander";
import { registerValidate } from "./commands/validate.ts";
import { CliError, EXIT_USAGE } from "./exit-codes.ts";

/**
 * Every command, one registration function per file under commands/. Each adds
 * itself with program.command(...) so it inherits the program's settings.
 */
const COMMANDS: ((program: Command) => void)[] = [registerValidate];

const VERSION = "0.1.0";

const HELP_AFTER = `
A VM is described as a KubeVirt VirtualMachineInstance; it reserves room for
hot-plugged NICs with spec.domain.resources.requests["kubevirt.io/interface"].

Exit codes: 0 success, 1 invalid input (e.g. a VMI that fails validation),
2 usage error or unreadable input.

Examples:
  headroom validate -f examples/vmi-seed.yaml
  headroom help validate`;

export function buildProgram(): Command {
  const program = new Command("headroom")
    .description(
      "Guaranteed network-interface hot-plug capacity for libvirt/QEMU virtual machines.",
    )
    .addHelpText("after", HELP_AFTER)
    .version(VERSION)
    .showHelpAfterError("(add --help for usage)")
    // Commander would exit 1 on usage errors; headroom keeps 1 for invalid input.
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Runs the CLI and returns the exit code; prints errors to stderr. */
export async function run(argv: readonly string[]): Promise<number> {
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (or the help/version) already.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (error instanceof CliError) {
      process.stderr.write(`headroom: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
