import { execFile } from "node:child_process";
import { realpath, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { QemuAccessError } from "./errors.ts";

const run = promisify(execFile);

/** The user Debian's libvirt runs QEMU as (qemu.conf `user`). */
export const DEFAULT_QEMU_USER = "libvirt-qemu";

export interface QemuAccessOptions {
  /** User QEMU runs as; default libvirt-qemu. */
  user?: string;
}

interface Identity {
  uid: number;
  gids: number[];
}

/**
 * Throws QemuAccessError when QEMU, running as its own unprivileged user, could
 * not open `path` for reading: every directory on the way needs search (x)
 * permission for that user, and the file needs read permission. libvirt opens
 * serial-console files itself, but QEMU opens kernels, initrds and disks, so a
 * file in a root-only (0700) directory, as mkdtemp makes them, fails at start
 * with "could not open kernel file ...: Permission denied".
 */
export async function assertQemuCanRead(
  path: string,
  options: QemuAccessOptions = {},
): Promise<void> {
  const user = options.user ?? DEFAULT_QEMU_USER;
  const identity = await lookupUser(user);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    throw new QemuAccessError(path, `${path} does not exist`);
  }
  const dirs: string[] = [];
  for (let at = dirname(real); ; at = dirname(at)) {
    dirs.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const dir of dirs) {
    const info = await stat(dir);
    if (!allowed(info, identity, 0o1)) {
      throw new QemuAccessError(
        path,
        `QEMU runs as ${user} and cannot reach ${path}: directory ${dir} is mode ${modeText(info.mode)} owned by uid ${info.uid}; fix with: chmod o+x ${dir} (or keep VM files in a directory such as /var/lib/headroom)`,
      );
    }
  }
  const info = await stat(real);
  if (!allowed(info, identity, 0o4)) {
    throw new QemuAccessError(
      path,
      `QEMU runs as ${user} and cannot read ${path}: it is mode ${modeText(info.mode)} owned by uid ${info.uid}; fix with: chmod o+r ${real}`,
    );
  }
}

function allowed(info: { mode: number; uid: number; gid: number }, who: Identity, bit: number) {
  if (info.uid === who.uid) return (info.mode & (bit << 6)) !== 0;
  if (who.gids.includes(info.gid)) return (info.mode & (bit << 3)) !== 0;
  return (info.mode & bit) !== 0;
}

function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/** uid and groups of the user; an unknown user is judged by the "others" bits alone. */
async function lookupUser(user: string): Promise<Identity> {
  try {
    const uid = Number((await run("id", ["-u", "--", user])).stdout.trim());
    const gids = (await run("id", ["-G", "--", user])).stdout.trim().split(/\s+/).map(Number);
    return { uid, gids };
  } catch {
    return { uid: -1, gids: [] };
  }
}
