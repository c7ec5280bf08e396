// Network attachments (a multus networkName and the host bridge its
// interfaces join), through the network API the domain composer serves.
import { API_SUBJECTS } from "@headroom/bus/client";
import {
  CreateNetworkReply,
  CreateNetworkRequest,
  DeleteNetworkReply,
  DeleteNetworkRequest,
  type INetworkAttachment,
  ListNetworksReply,
  ListNetworksRequest,
} from "@headroom/proto";
import type { HeadroomClient } from "../client.ts";
import { CliError, EXIT_INVALID, EXIT_OK } from "../exit-codes.ts";
import { formatAge, formatObjects, formatTable, type OutputFormat } from "../output.ts";

/** A network as -o json|yaml prints it. */
export function networkObject(network: INetworkAttachment) {
  return {
    name: network.name ?? "",
    bridge: network.bridge ?? "",
    createdAt: new Date(network.createdUnixMs ?? 0).toISOString(),
  };
}

export async function createNetwork(
  client: HeadroomClient,
  name: string,
  bridge: string,
  write: (text: string) => void,
): Promise<number> {
  const reply = await client.call(
    API_SUBJECTS.createNetwork,
    CreateNetworkRequest,
    { name, bridge },
    CreateNetworkReply,
  );
  if (reply.created) {
    write(`network/${name} created (bridge ${reply.created.bridge})\n`);
    return EXIT_OK;
  }
  if (reply.unchanged) {
    write(`network/${name} unchanged (bridge ${reply.unchanged.bridge})\n`);
    return EXIT_OK;
  }
  throw new CliError(reply.error || `network/${name} was not created`, EXIT_INVALID);
}

export interface GetNetworksOptions {
  name?: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function getNetworks(
  client: HeadroomClient,
  options: GetNetworksOptions,
): Promise<number> {
  const now = options.now ?? Date.now;
  const reply = await client.call(
    API_SUBJECTS.listNetworks,
    ListNetworksRequest,
    {},
    ListNetworksReply,
    { read: true },
  );
  let networks = reply.networks;
  if (options.name !== undefined) {
    networks = networks.filter((network) => network.name === options.name);
    if (networks.length === 0)
      throw new CliError(`network/${options.name} not found`, EXIT_INVALID);
  }
  if (options.output === "json" || options.output === "yaml") {
    options.write(
      formatObjects(options.output, networks.map(networkObject), options.name !== undefined),
    );
    return EXIT_OK;
  }
  if (networks.length === 0) {
    process.stderr.write("No networks found.\n");
    return EXIT_OK;
  }
  const rows = networks.map((network) => [
    network.name ?? "",
    network.bridge ?? "",
    formatAge(now() - (network.createdUnixMs ?? 0)),
  ]);
  options.write(formatTable(["NAME", "BRIDGE", "AGE"], rows));
  return EXIT_OK;
}

export async function deleteNetwork(
  client: HeadroomClient,
  name: string,
  write: (text: string) => void,
): Promise<number> {
  const reply = await client.call(
    API_SUBJECTS.deleteNetwork,
    DeleteNetworkRequest,
    { name },
    DeleteNetworkReply,
  );
  if (reply.deleted) {
    write(`network/${name} deleted\n`);
    return EXIT_OK;
  }
  // Refused because VMIs use it: the server's message names them and says what to do.
  if (reply.usedBy.length > 0 || !/does not exist/.test(reply.message)) {
    throw new CliError(reply.message || `network/${name} was not deleted`, EXIT_INVALID);
  }
  throw new CliError(`network/${name} not found`, EXIT_INVALID);
}
