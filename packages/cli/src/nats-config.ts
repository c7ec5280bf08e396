// The configuration `headroom up` runs nats-server with: <state>/nats/server.conf,
// which includes the shipped one (infra/nats/headroom.conf or tls.conf) and
// lists the users, one per person given a login (headroom user add). Written
// at each start and by user add/remove, which then ask a running server to
// reload it (SIGHUP to the pid in <state>/nats/nats-server.pid).
import { readFile, rename, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { readPeople, serverConfig } from "@headroom/bus";
import type { HostState } from "@headroom/host-state";

export const SERVER_CONF = "server.conf";
const PID_FILE = "nats-server.pid";

export function serverConfPath(state: HostState): string {
  return join(state.nats, SERVER_CONF);
}

/**
 * Writes server.conf, including `shipped`; without it, keeps the one the
 * current server.conf includes. Resolves with its path, or undefined when
 * there is none to keep (up writes it at its next start).
 */
export async function writeNatsConfig(
  state: HostState,
  shipped?: string,
): Promise<string | undefined> {
  const path = serverConfPath(state);
  let include = shipped === undefined ? undefined : relative(state.nats, shipped);
  if (include === undefined) {
    const current = await readFile(path, "utf8").catch(() => "");
    const found = /^include (".*")$/m.exec(current)?.[1];
    if (found === undefined) return undefined;
    include = JSON.parse(found) as string;
  }
  const text = serverConfig(include, join(state.nats, PID_FILE), await readPeople(state.secrets));
  const fresh = `${path}.${process.pid}`;
  await writeFile(fresh, text, { mode: 0o600 });
  await rename(fresh, path);
  return path;
}

/** Asks the nats-server up started to reload its configuration; false when none runs. */
export async function reloadNats(state: HostState): Promise<boolean> {
  const pid = Number((await readFile(join(state.nats, PID_FILE), "utf8").catch(() => "")).trim());
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  // A stale pid file may name some other process by now.
  const command = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
  if (command.trim() !== "nats-server") return false;
  process.kill(pid, "SIGHUP");
  return true;
}
