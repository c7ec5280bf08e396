import { type Command, InvalidArgumentError } from "commander";
import { CliError, EXIT_CODES_HELP, EXIT_USAGE } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";
import { type OutputFormat, outputOption } from "../output.ts";
import { KIND_NAMES, type Kind, kindOf } from "../resources/kinds.ts";

interface GetOptions {
  output: OutputFormat;
  allNamespaces?: boolean;
  selector?: string;
}

const HELP_AFTER = `
Resources: ${KIND_NAMES}.

VMIs are listed with NAME, PHASE, CAPACITY (network interfaces the VMI is
guaranteed to hold), FREE (how many more can be hot-plugged) and AGE; a VMI no
launcher has reported on yet is Pending. -o wide adds REQUESTED, IN-USE,
CONTROLLERS (added by libvirt for the reserved room), NODE and REASON.
-o json|yaml prints the VMI as Kubernetes would (metadata.uid,
metadata.generation, and status.phase, status.capacity, status.interfaces);
without NAME, a List. -l takes a label selector as kubectl does: app=web,
app!=web, app (has the label), !app, app in (web,db), app notin (web,db);
commas join requirements, and a VMI must meet them all.

Images are listed from headroom's image store with REF, SIZE, AGE and HOSTS
(the hosts holding that very upload; an image hosts hold that is not in the
store, placed on a host directly or deleted since, is listed too, marked so);
-o wide adds FILES and DIGEST. Nodes (hosts) are listed with NAME, STATUS
(Ready, or NotReady when its launcher says so or has not refreshed its record
for 3 heartbeats), VMS (running), CPUS, MEMORY (free/total), VIRT (KVM or TCG)
and AGE (since its launcher started); -o wide adds LIBVIRT, QEMU, LAST-SEEN
and LABELS; -l selects them by label. Networks are
listed with NAME, BRIDGE and AGE; -o json|yaml prints {name, bridge, createdAt}.

${EXIT_CODES_HELP}

Examples:
  headroom get vmi
  headroom get vmis -A -o wide
  headroom get vmi -l app=web,tier!=db
  headroom get vmi web -o yaml
  headroom get images
  headroom get nodes -l disktype=ssd
  headroom get networks -o json`;

/** `headroom get vmi|images|networks [NAME] [-o json|yaml|wide] [-A]` */
export function registerGet(program: Command): void {
  program
    .command("get")
    .summary("list VMIs, images, networks, volumes or nodes, or show one")
    .description("Show VMIs, images, networks, volumes or nodes.")
    .argument("<resource>", "vmi, images, networks, volumes or nodes", parseKind)
    .argument("[name]", "just this one")
    .addOption(outputOption(["json", "yaml", "wide"]))
    .option("-A, --all-namespaces", "VMIs of every namespace")
    .option(
      "-l, --selector <selector>",
      "only VMIs or nodes whose labels match, e.g. app=web,tier!=db",
    )
    .addHelpText("after", HELP_AFTER)
    .action(async (kind: Kind, name: string | undefined, options: GetOptions, command: Command) => {
      const globals = globalsOf(command);
      const write = (text: string) => process.stdout.write(text);
      const output = options.output;
      const { selector } = options;
      const labelled = kind === "vmi" || kind === "node";
      if (selector !== undefined && (!labelled || name !== undefined))
        throw new CliError(
          labelled
            ? `-l selects ${kind}s by label: give a NAME or -l, not both`
            : `-l selects VMIs and nodes by label; ${kind}s have none`,
          EXIT_USAGE,
        );
      // Each kind loads only what it needs, when it runs (so does every command).
      switch (kind) {
        case "vmi": {
          const [{ withClient }, { getVmis }] = await Promise.all([
            import("../client.ts"),
            import("../resources/vmis.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            getVmis(client, {
              namespace: globals.namespace,
              allNamespaces: Boolean(options.allNamespaces) && name === undefined,
              ...(name === undefined ? {} : { name }),
              ...(selector === undefined ? {} : { selector }),
              output,
              write,
            }),
          );
          return;
        }
        case "image": {
          const [{ withClient }, { getImages }] = await Promise.all([
            import("../client.ts"),
            import("../resources/images.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            getImages(client, { ...(name === undefined ? {} : { name }), output, write }),
          );
          return;
        }
        case "network": {
          const [{ withClient }, { getNetworks }] = await Promise.all([
            import("../client.ts"),
            import("../resources/networks.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            getNetworks(client, { ...(name === undefined ? {} : { name }), output, write }),
          );
          return;
        }
        case "node": {
          const [{ withClient }, { getNodes }] = await Promise.all([
            import("../client.ts"),
            import("../resources/nodes.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            getNodes(client, {
              ...(name === undefined ? {} : { name }),
              ...(selector === undefined ? {} : { selector }),
              output,
              write,
            }),
          );
          return;
        }
        case "volume": {
          const [{ withClient }, { getVolumes }] = await Promise.all([
            import("../client.ts"),
            import("../resources/volumes.ts"),
          ]);
          process.exitCode = await withClient(globals, (client) =>
            getVolumes(client, { ...(name === undefined ? {} : { name }), output, write }),
          );
          return;
        }
      }
    });
}

export function parseKind(word: string): Kind {
  const kind = kindOf(word);
  if (!kind) throw new InvalidArgumentError(`headroom knows ${KIND_NAMES}.`);
  return kind;
}
