import type { Command } from "commander";
import { DESCRIBE_EVENTS } from "../constants.ts";
import { CliError, EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";
import { type OutputFormat, outputOption } from "../output.ts";
import type { Kind } from "../resources/kinds.ts";
import { parseKind } from "./get.ts";

interface DescribeOptions {
  output: OutputFormat;
}

const HELP_AFTER = `
Shows one VMI as kubectl describe would: its identity, phase and machine type;
its capacity for network interfaces (Requested, Effective, In use, Free,
Controllers added), read live from the running domain by the launcher — or,
when the domain is not running or no launcher answers, from the last stored
status, with a note saying why; its interfaces (NAME, NETWORK, MAC,
PCI ADDRESS, STATE); and its last ${DESCRIBE_EVENTS} capacity events.

-o json|yaml prints the same as one object: {name, namespace, uid, generation,
node, phase, reason, machineType, capacity: {source ("live"|"stored"), note,
requested, effective, inUse, free, controllersAdded}, interfaces: [{name,
network, mac, pciAddress, state}], events: [...]} (events as "headroom events
-o json" prints them).

A node (host) is shown with its status and why, labels, last heartbeat, virt
type, CPUs, memory, VMs running, libvirt and QEMU versions, machine types and
the images it holds; -o json|yaml prints it as "get nodes" does.

${EXIT_CODES_HELP}

Examples:
  headroom describe vmi vmi-iface-request-example
  headroom describe node hv-1
  headroom describe vmi web -o yaml`;

/** `headroom describe vmi NAME [-o json|yaml]` */
export function registerDescribe(program: Command): void {
  program
    .command("describe")
    .summary("show a VMI (live capacity, interfaces, recent events) or a node in detail")
    .description("Show one VMI or node in detail.")
    .argument("<resource>", "vmi or node", parseKind)
    .argument("<name>", "the VMI or node")
    .addOption(outputOption(["json", "yaml"]))
    .addHelpText("after", HELP_AFTER)
    .action(async (kind: Kind, name: string, options: DescribeOptions, command: Command) => {
      const globals = globalsOf(command);
      if (kind === "node") {
        const [{ withClient }, { describeNode }] = await Promise.all([
          import("../client.ts"),
          import("../resources/nodes.ts"),
        ]);
        process.exitCode = await withClient(globals, (client) =>
          describeNode(client, {
            name,
            output: options.output === "wide" ? "table" : options.output,
            write: (text) => process.stdout.write(text),
          }),
        );
        return;
      }
      if (kind !== "vmi") {
        throw new CliError(
          `describe shows VMIs and nodes; for ${kind}s use: headroom get ${kind}s ${name}`,
        );
      }
      const [{ withClient }, { describeVmi }] = await Promise.all([
        import("../client.ts"),
        import("../resources/describe.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        describeVmi(client, {
          namespace: globals.namespace,
          name,
          output: options.output,
          write: (text) => process.stdout.write(text),
        }),
      );
    });
}
