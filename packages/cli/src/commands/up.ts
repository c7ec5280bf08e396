import { hostname } from "node:os";
import { type Command, InvalidArgumentError } from "commander";
import { CliError, EXIT_CODES_HELP, EXIT_USAGE } from "../exit-codes.ts";
import { globalsOf, hostStateOf } from "../globals.ts";

interface UpOptions {
  natsUrl?: string;
  node?: string;
  label: string[];
  hosts: number;
}

/** Hosts one `up --hosts N` runs at most. */
const MAX_HOSTS = 8;

const HELP_AFTER = `
What "npm start" runs. In order:
  1. NATS: starts nats-server at --nats-url (loopback only) with JetStream,
     its store under <state-dir>/nats, with infra/nats/headroom.conf: one user
     per service and one for clients, each allowed only its own subjects.
     Logins are NKEYs (the server holds public keys only). The keys are
     made at first start in <state-dir>/secrets (nats.env for the server and
     services, client.env for the CLI, both readable by their owner only).
     With HEADROOM_NATS_TLS_SERVER_CERT and _KEY set, it uses
     infra/nats/tls.conf instead (TLS only; clients need HEADROOM_NATS_TLS_CA).
     A server that already answers there is used only when --nats-url or
     --server names it on the command line; otherwise up refuses to start
     (it logs in only to a server it started or one you named).
  2. libvirtd: starts virtlogd and libvirtd (infra/daemons.sh) when
     "virsh -c qemu:///system version" fails.
  3. The services validator, domain-composer and launcher, each restarted if
     it dies; every output line is prefixed with its name, and also appended
     to <state-dir>/logs/up.log.
The launcher runs this host as the node --node (default: the host name),
with the labels --label gives it (repeatable) beside kubernetes.io/hostname,
kubernetes.io/os and kubernetes.io/arch; "headroom get nodes" shows them.
--hosts N runs N launchers instead, nodes NAME-1 … NAME-N, to try placement
on one machine: they share this machine's libvirtd and state directory, and
each touches only the domains of the VMIs placed on it.
Then it prints what to do next, and runs until Ctrl-C or SIGTERM, which stop
the services first and then the nats-server it started.

${EXIT_CODES_HELP}

Examples:
  headroom up
  headroom up --node hv-1 --label disktype=ssd
  headroom up --hosts 3
  headroom up --nats-url nats://127.0.0.1:4333 --state-dir /tmp/headroom`;

/** `headroom up [--nats-url URL] [--node NAME] [--label key=value]...` */
export function registerUp(program: Command): void {
  program
    .command("up")
    .summary("run headroom on this host (what npm start runs)")
    .description("Run NATS, libvirtd and the headroom services on this host until Ctrl-C.")
    .option("--nats-url <url>", "NATS to use or start (default: --server)")
    .option("--node <name>", "this host's node name (default: the host name)")
    .option(
      "--label <key=value>",
      "a label of this host, for nodeSelector (repeatable)",
      (label: string, labels: string[]) => [...labels, label],
      [],
    )
    .option("--hosts <n>", `hosts to run on this machine, 1 to ${MAX_HOSTS}`, parseHosts, 1)
    .addHelpText("after", HELP_AFTER)
    .action(async (options: UpOptions, command: Command) => {
      const globals = globalsOf(command);
      const { runUp } = await import("../up.ts");
      const named = options.natsUrl !== undefined || globals.serverGiven;
      const nodes = await checkHostFlags(options);
      const labels = options.label.flatMap((label) => ["--label", label]);
      const launchers = nodes.map((node) => [...(node ? ["--node", node] : []), ...labels]);
      process.exitCode = await runUp(
        options.natsUrl ?? globals.server,
        hostStateOf(globals),
        named,
        launchers,
      );
    });
}

function parseHosts(text: string): number {
  const hosts = Number(text);
  if (!/^\d+$/.test(text) || hosts < 1 || hosts > MAX_HOSTS)
    throw new InvalidArgumentError(`write a number of hosts from 1 to ${MAX_HOSTS}, e.g. 3.`);
  return hosts;
}

/**
 * What the launchers would refuse, refused before anything starts; returns
 * each launcher's node name ("" for the launcher's own default, the host name).
 */
async function checkHostFlags(options: UpOptions): Promise<string[]> {
  const { nodeNameProblem, parseLabel } = await import("@headroom/labels");
  const base = options.node ?? (options.hosts > 1 ? hostname() : "");
  const nodes =
    options.hosts > 1
      ? Array.from({ length: options.hosts }, (_, i) => `${base}-${i + 1}`)
      : [base];
  for (const node of nodes) {
    const problem = node === "" ? undefined : nodeNameProblem(node);
    if (problem) throw new CliError(`--node: ${problem}`, EXIT_USAGE);
  }
  for (const label of options.label) {
    try {
      parseLabel(label);
    } catch (error) {
      throw new CliError(`--label: ${(error as Error).message}`, EXIT_USAGE);
    }
  }
  return nodes;
}
