import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";

const MIB = 1024 * 1024;

/**
 * Writes a raw disk of `mib` MiB: one random MiB repeated, each copy stamped
 * with its index, so nothing compresses or deduplicates it.
 */
export async function writeRandomDisk(path: string, mib: number): Promise<void> {
  const block = randomBytes(MIB);
  const file = await open(path, "w");
  try {
    for (let i = 0; i < mib; i++) {
      block.writeUInt32LE(i, 512);
      await file.write(block, 0, MIB);
    }
  } finally {
    await file.close();
  }
}
