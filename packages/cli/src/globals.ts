// Options every command that talks to headroom shares, set on the program so
// they may come before or after the command (`headroom -n lab get vmi`,
// `headroom get vmi -n lab`).

import { type HostState, hostState } from "@headroom/host-state";
import { type Command, Option } from "commander";

/**
 * @headroom/bus's DEFAULT_NATS_URL, repeated so that building the options
 * (and --help) loads no NATS code; a test keeps the two equal.
 */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** Environment variable that names the server when --server is not given. */
export const SERVER_ENV = "HEADROOM_NATS_URL";

export const DEFAULT_NAMESPACE = "default";

export interface GlobalOptions {
  /** NATS URL of headroom: --server, else $HEADROOM_NATS_URL, else the default. */
  server: string;
  /** Whether --server was given on the command line. */
  serverGiven: boolean;
  namespace: string;
  /** True when the user wrote -n/--namespace (apply then insists the manifest agrees). */
  namespaceGiven: boolean;
  /**
   * Where the CLI finds its NATS login (secrets/client.env), and where `headroom up`
   * keeps its state: --state-dir, else $HEADROOM_STATE_DIR.
   */
  stateDir: string;
}

export const DEFAULT_STATE_DIR = "/var/lib/headroom";

export function addGlobalOptions(program: Command): void {
  program
    .addOption(
      new Option("-s, --server <url>", "NATS URL of headroom")
        .env(SERVER_ENV)
        .default(DEFAULT_NATS_URL),
    )
    .addOption(
      new Option("-n, --namespace <namespace>", "namespace of the VMIs").default(DEFAULT_NAMESPACE),
    )
    .addOption(
      new Option("--state-dir <dir>", "where the NATS login is (secrets/client.env); up's state")
        .env("HEADROOM_STATE_DIR")
        .default(DEFAULT_STATE_DIR),
    );
}

/** The global options as seen from a command's action. */
export function globalsOf(command: Command): GlobalOptions {
  let root = command;
  while (root.parent) root = root.parent;
  const options = root.opts<{ server: string; namespace: string; stateDir: string }>();
  return {
    server: options.server,
    serverGiven: root.getOptionValueSource("server") === "cli",
    namespace: options.namespace,
    namespaceGiven: root.getOptionValueSource("namespace") === "cli",
    stateDir: options.stateDir,
  };
}

/** hostState() of the state directory the user chose. */
export function hostStateOf(globals: GlobalOptions): HostState {
  return hostState({ HEADROOM_STATE_DIR: globals.stateDir });
}
