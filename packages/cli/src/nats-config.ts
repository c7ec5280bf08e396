// The configuration `headroom up` runs nats-server with: <state>/nats/server.conf,
// which includes the shipped one (infra/nats/headroom.conf, tls.conf, or
// cluster.conf) and lists the users, one per person given a login (headroom
// user add). Written at each start and by user add/remove, which then ask a
// running server to reload it (SIGHUP to the pid in <state>/nats/nats-server.pid).
// `up --hosts N` runs a cluster of CLUSTER_SIZE servers, each with its own
// directory <state>/nats/n1, n2, n3 holding the same files.
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { readPeople, serverConfig } from "@headroom/bus";
import type { HostState } from "@headroom/host-state";

export const SERVER_CONF = "server.conf";
const PID_FILE = "nats-server.pid";

/** Servers of the NATS cluster `up --hosts N` runs. */
export const CLUSTER_SIZE = 3;

export function serverConfPath(state: HostState, dir = state.nats): string {
  return join(dir, SERVER_CONF);
}

/** The directory of cluster server `n` (1 to CLUSTER_SIZE). */
export function clusterServerDir(state: HostState, n: number): string {
  return join(state.nats, `n${n}`);
}

/** Every server directory that holds a server.conf: the one server's, and the cluster's. */
function serverDirs(state: HostState): string[] {
  const dirs = [
    state.nats,
    ...Array.from({ length: CLUSTER_SIZE }, (_, i) => clusterServerDir(state, i + 1)),
  ];
  return dirs.filter((dir) => existsSync(serverConfPath(state, dir)));
}

/** Writes every server.conf again (the people changed); how many there were. */
export async function rewriteNatsConfigs(state: HostState): Promise<number> {
  let written = 0;
  for (const dir of serverDirs(state)) {
    if (await writeNatsConfig(state, undefined, dir)) written++;
  }
  return written;
}

/**
 * Writes server.conf, including `shipped`; without it, keeps the one the
 * current server.conf includes. Resolves with its path, or undefined when
 * there is none to keep (up writes it at its next start).
 */
export async function writeNatsConfig(
  state: HostState,
  shipped?: string,
  dir = state.nats,
): Promise<string | undefined> {
  const path = serverConfPath(state, dir);
  let include = shipped === undefined ? undefined : relative(dir, shipped);
  if (include === undefined) {
    const current = await readFile(path, "utf8").catch(() => "");
    const found = /^include (".*")$/m.exec(current)?.[1];
    if (found === undefined) return undefined;
    include = JSON.parse(found) as string;
  }
  const text = serverConfig(include, join(dir, PID_FILE), await readPeople(state.secrets));
  const fresh = `${path}.${process.pid}`;
  await writeFile(fresh, text, { mode: 0o600 });
  await rename(fresh, path);
  return path;
}

/** Asks every nats-server up started to reload its configuration; false when none runs. */
export async function reloadNats(state: HostState): Promise<boolean> {
  let reloaded = false;
  for (const dir of serverDirs(state)) {
    const pid = Number((await readFile(join(dir, PID_FILE), "utf8").catch(() => "")).trim());
    if (!Number.isSafeInteger(pid) || pid <= 1) continue;
    // A stale pid file may name some other process by now.
    const command = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
    if (command.trim() !== "nats-server") continue;
    process.kill(pid, "SIGHUP");
    reloaded = true;
  }
  return reloaded;
}
