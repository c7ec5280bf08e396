// Registry logins on this host (headroom registry login, logout).
import type { HostState } from "@headroom/host-state";
import {
  namesRegistry,
  RegistryClient,
  RegistryError,
  removeRegistryLogin,
  saveRegistryLogin,
} from "@headroom/registry";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import { readInput } from "../read-input.ts";

function checkHost(host: string): void {
  if (!namesRegistry(`${host}/x`) || host.includes("/"))
    throw new CliError(
      `${host} is not a registry host: give host[:port] with a "." or a ":" (or localhost), as image references name it`,
      EXIT_USAGE,
    );
}

export async function registryLogin(
  state: HostState,
  host: string,
  options: { username: string; insecure: boolean; write: (text: string) => void },
): Promise<number> {
  checkHost(host);
  const password = (await readInput("-")).text.replace(/\r?\n$/, "");
  if (password === "") throw new CliError("no password on stdin", EXIT_USAGE);
  const login = { username: options.username, password };
  const client = new RegistryClient(host, "", {
    login,
    ...(options.insecure ? { insecure: [host] } : {}),
  });
  try {
    await client.ping();
  } catch (error) {
    if (error instanceof RegistryError) throw new CliError(error.message, EXIT_INVALID);
    throw error;
  }
  await saveRegistryLogin(state.secrets, host, login);
  options.write(
    `login to ${host} as ${options.username} checked and kept for this host's pulls (${state.secrets}/registries.json)\n`,
  );
  return EXIT_OK;
}

export async function registryLogout(
  state: HostState,
  host: string,
  write: (text: string) => void,
): Promise<number> {
  checkHost(host);
  if (!(await removeRegistryLogin(state.secrets, host)))
    throw new CliError(`no login to ${host} is kept on this host`, EXIT_INVALID);
  write(`login to ${host} forgotten\n`);
  return EXIT_OK;
}
