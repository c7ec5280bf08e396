import { Command, CommanderError } from "commander";
import { registerApply } from "./commands/apply.ts";
import { registerDelete } from "./commands/delete.ts";
import { registerDescribe } from "./commands/describe.ts";
import { registerEvents } from "./commands/events.ts";
import { registerGet } from "./commands/get.ts";
import { registerImage } from "./commands/image.ts";
import { registerInterfaces } from "./commands/interfaces.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerNetwork } from "./commands/network.ts";
import { registerRegistry } from "./commands/registry.ts";
import { registerUp } from "./commands/up.ts";
import { registerUser } from "./commands/user.ts";
import { registerValidate } from "./commands/validate.ts";
import { registerVolume } from "./commands/volume.ts";
import { CliError, EXIT_CODES_HELP, EXIT_USAGE } from "./exit-codes.ts";
import { addGlobalOptions } from "./globals.ts";

/**
 * Every command, one registration function per file under commands/. Each adds
 * itself with program.command(...) so it inherits the program's settings.
 */
const COMMANDS: ((program: Command) => void)[] = [
  registerUp,
  registerApply,
  registerGet,
  registerDescribe,
  registerDelete,
  registerInterfaces,
  registerEvents,
  registerLogs,
  registerImage,
  registerNetwork,
  registerVolume,
  registerRegistry,
  registerUser,
  registerValidate,
];

const VERSION = "0.1.0";

const HELP_AFTER = `
A VM is described as a KubeVirt VirtualMachineInstance; it reserves room for
hot-plugged NICs with spec.domain.resources.requests["kubevirt.io/interface"].

Commands that talk to headroom reach it over NATS at --server (default
$HEADROOM_NATS_URL or nats://127.0.0.1:4222); start it with "npm start"
(headroom up). logs and the image store work on this host's --state-dir.

${EXIT_CODES_HELP}

Examples:
  headroom up
  headroom apply -f examples/vmi-seed.yaml --wait
  headroom get vmi
  headroom addinterface vmi-iface-request-example --name third --network headroom-bridge
  headroom describe vmi vmi-iface-request-example
  headroom events --vmi vmi-iface-request-example -f
  headroom validate -f examples/vmi-seed.yaml
  headroom help apply`;

export function buildProgram(): Command {
  const program = new Command("headroom")
    .description(
      "Guaranteed network-interface hot-plug capacity for libvirt/QEMU virtual machines.",
    )
    .addHelpText("after", HELP_AFTER)
    .version(VERSION)
    .showHelpAfterError("(add --help for usage)")
    .configureHelp({ showGlobalOptions: true })
    // Commander would exit 1 on usage errors; headroom keeps 1 for invalid input.
    .exitOverride();
  addGlobalOptions(program);
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
