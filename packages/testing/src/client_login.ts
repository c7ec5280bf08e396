import { copyFile, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A state directory of the CLI's own, apart from the services': only the
 * client's login (secrets/client.env, copied from `servicesSecrets`), as a
 * user brings it to another machine. Removed by the caller.
 */
export async function cliStateWithLogin(servicesSecrets: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "headroom-cli-own-"));
  await mkdir(join(dir, "secrets"), { mode: 0o700 });
  await copyFile(join(servicesSecrets, "client.env"), join(dir, "secrets", "client.env"));
  return dir;
}
