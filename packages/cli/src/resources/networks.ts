// Networks (host bridges interfaces can join), through headroom's network API.
import type { HeadroomClient } from "../client.ts";
import { CliError, EXIT_UNREACHABLE } from "../exit-codes.ts";
import type { OutputFormat } from "../output.ts";

export interface GetNetworksOptions {
  name?: string;
  output: OutputFormat;
  write: (text: string) => void;
}

function notYet(client: HeadroomClient): never {
  throw new CliError(`headroom at ${client.url} has no network API yet`, EXIT_UNREACHABLE);
}

export async function getNetworks(
  client: HeadroomClient,
  _options: GetNetworksOptions,
): Promise<number> {
  return notYet(client);
}

export async function deleteNetwork(
  client: HeadroomClient,
  _name: string,
  _write: (text: string) => void,
): Promise<number> {
  return notYet(client);
}
