import type { Command } from "commander";
import { POD_NETWORK } from "../constants.ts";
import { parseDuration } from "../duration.ts";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";

interface AddOptions {
  name: string;
  network: string;
  mac?: string;
  timeout: string;
}

interface RemoveOptions {
  name: string;
  timeout: string;
}

/**
 * A hot-plug waits for the launcher to run the VMI's next generation, which
 * takes seconds under TCG, and an unplug for the guest to let go of the NIC.
 */
const DEFAULT_TIMEOUT = "150s";

const ADD_HELP = `
Hot-plugs a NIC into a running VMI, within the room it reserved with
spec.domain.resources.requests["kubevirt.io/interface"]. The VMI is changed as
"headroom apply" would change it (one more interface and network), and the
launcher attaches the NIC. When no room is left, headroom refuses (exit 1, its
message on stderr), publishes an "exhausted" event and leaves the VMI as it was.

--network is a network attachment (see "headroom get networks"), joined with a
bridge binding, or "${POD_NETWORK}" for the pod network (masquerade).

Prints: vmi/NAME: interface IFACE attached (capacity: 5 requested, 4 in use, 1 free)

${EXIT_CODES_HELP}

Examples:
  headroom addinterface vmi-iface-request-example --name third --network headroom-bridge
  headroom addinterface web --name eth2 --network lab --mac 02:00:00:00:00:02`;

const REMOVE_HELP = `
Unplugs a NIC from a running VMI and removes the interface (and its network)
from the VMI, giving its slot back. The guest must release the device: one
that does not keeps it attached, and the command fails (exit 1) saying so.

Prints: vmi/NAME: interface IFACE detached (capacity: 5 requested, 3 in use, 2 free)

${EXIT_CODES_HELP}

Examples:
  headroom removeinterface vmi-iface-request-example --name third`;

/** `headroom addinterface NAME --name IFACE --network NET [--mac MAC] [--timeout 150s]` and `removeinterface`. */
export function registerInterfaces(program: Command): void {
  program
    .command("addinterface")
    .summary("hot-plug a network interface into a running VMI")
    .description("Hot-plug a network interface into a running VMI, within its reserved capacity.")
    .argument("<vmi>", "the running VMI")
    .requiredOption("--name <interface>", "name of the new interface, unique in the VMI")
    .requiredOption(
      "--network <network>",
      `network attachment it joins, or "${POD_NETWORK}" for the pod network`,
    )
    .option("--mac <mac>", "its MAC address (default: a generated one)")
    .option("--timeout <duration>", "how long to wait for the NIC (e.g. 90s, 5m)", DEFAULT_TIMEOUT)
    .addHelpText("after", ADD_HELP)
    .action(async (vmi: string, options: AddOptions, command: Command) => {
      const globals = globalsOf(command);
      const timeoutMs = parseDuration(options.timeout);
      const [{ withClient }, { addInterface }] = await Promise.all([
        import("../client.ts"),
        import("../resources/interfaces.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        addInterface(client, {
          namespace: globals.namespace,
          name: vmi,
          interfaceName: options.name,
          networkName: options.network,
          ...(options.mac === undefined ? {} : { mac: options.mac }),
          timeoutMs,
          write: (text) => process.stdout.write(text),
        }),
      );
    });

  program
    .command("removeinterface")
    .summary("unplug a network interface from a running VMI")
    .description("Unplug a network interface from a running VMI and give its slot back.")
    .argument("<vmi>", "the running VMI")
    .requiredOption("--name <interface>", "the interface to remove")
    .option(
      "--timeout <duration>",
      "how long to wait for the guest to let go (e.g. 90s, 5m)",
      DEFAULT_TIMEOUT,
    )
    .addHelpText("after", REMOVE_HELP)
    .action(async (vmi: string, options: RemoveOptions, command: Command) => {
      const globals = globalsOf(command);
      const timeoutMs = parseDuration(options.timeout);
      const [{ withClient }, { removeInterface }] = await Promise.all([
        import("../client.ts"),
        import("../resources/interfaces.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        removeInterface(client, {
          namespace: globals.namespace,
          name: vmi,
          interfaceName: options.name,
          timeoutMs,
          write: (text) => process.stdout.write(text),
        }),
      );
    });
}
