import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf, hostStateOf } from "../globals.ts";

interface UpOptions {
  natsUrl?: string;
}

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
Then it prints what to do next, and runs until Ctrl-C or SIGTERM, which stop
the services first and then the nats-server it started.

${EXIT_CODES_HELP}

Examples:
  headroom up
  headroom up --nats-url nats://127.0.0.1:4333 --state-dir /tmp/headroom`;

/** `headroom up [--nats-url URL] [--state-dir DIR]` */
export function registerUp(program: Command): void {
  program
    .command("up")
    .summary("run headroom on this host (what npm start runs)")
    .description("Run NATS, libvirtd and the headroom services on this host until Ctrl-C.")
    .option("--nats-url <url>", "NATS to use or start (default: --server)")
    .addHelpText("after", HELP_AFTER)
    .action(async (options: UpOptions, command: Command) => {
      const globals = globalsOf(command);
      const { runUp } = await import("../up.ts");
      const named = options.natsUrl !== undefined || globals.serverGiven;
      process.exitCode = await runUp(
        options.natsUrl ?? globals.server,
        hostStateOf(globals),
        named,
      );
    });
}
