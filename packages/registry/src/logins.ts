// Registry logins a host's administrator gives headroom (headroom registry
// login): kept in <state-dir>/secrets/registries.json, readable by its owner
// only, read at each pull. Never in a VMI, never in a log line.
import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Login } from "./client.ts";

export const REGISTRY_LOGINS_FILE = "registries.json";

/** The logins by registry host (host[:port]); none when the file does not exist. */
export async function readRegistryLogins(secretsDir: string): Promise<Record<string, Login>> {
  const file = join(secretsDir, REGISTRY_LOGINS_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw error;
  }
  const info = await stat(file);
  const uid = process.getuid?.();
  if ((uid !== undefined && info.uid !== uid) || info.mode & 0o077)
    throw new Error(
      `${file} must be this user's and readable by nobody else (chmod 600 ${file}): it holds registry passwords`,
    );
  const logins = JSON.parse(text) as Record<string, Partial<Login>>;
  const valid: Record<string, Login> = {};
  for (const [registry, login] of Object.entries(logins)) {
    if (typeof login?.username === "string" && typeof login.password === "string")
      valid[registry] = { username: login.username, password: login.password };
  }
  return valid;
}

async function writeLogins(secretsDir: string, logins: Record<string, Login>): Promise<void> {
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  const file = join(secretsDir, REGISTRY_LOGINS_FILE);
  const fresh = `${file}.${process.pid}`;
  await writeFile(fresh, `${JSON.stringify(logins, null, 2)}\n`, { mode: 0o600 });
  await chmod(fresh, 0o600);
  await rename(fresh, file);
}

export async function saveRegistryLogin(
  secretsDir: string,
  registry: string,
  login: Login,
): Promise<void> {
  const logins = await readRegistryLogins(secretsDir);
  await writeLogins(secretsDir, { ...logins, [registry]: login });
}

/** Forgets a registry's login; false when there was none. */
export async function removeRegistryLogin(secretsDir: string, registry: string): Promise<boolean> {
  const logins = await readRegistryLogins(secretsDir);
  if (!Object.hasOwn(logins, registry)) return false;
  delete logins[registry];
  await writeLogins(secretsDir, logins);
  return true;
}
