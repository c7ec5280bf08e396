// The small file-system steps every file a domain needs on the host shares.
import { access, chmod, mkdir } from "node:fs/promises";

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Makes the directory a domain's files live in, 0755 whatever the umask: QEMU runs as its own user and must reach them. */
export async function makeDomainFilesDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
}
