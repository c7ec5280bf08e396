import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { repoRoot } from "./root.ts";

const run = promisify(execFile);

/** Starts virtlogd/libvirtd (infra/daemons.sh) unless qemu:///system already answers. */
export async function ensureLibvirtd(): Promise<void> {
  try {
    await run("virsh", ["-c", "qemu:///system", "version"], { timeout: 15_000 });
    return;
  } catch {
    await run("bash", ["infra/daemons.sh", "--quiet"], { cwd: repoRoot(), timeout: 60_000 });
  }
}
