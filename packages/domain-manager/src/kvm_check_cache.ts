// The KVM check's result, kept in one file for one host boot and one libvirt
// URI: a restarted launcher reads it instead of booting the tiny guest again.
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { VirtType } from "@headroom/domain-xml";

export const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";

/** What a result is valid for: this boot of this host, through this URI, by this check. */
export interface CacheKey {
  bootId: string;
  uri: string;
  /** How the guest was booted; a result of another way says nothing of this one. */
  check: string;
}

export interface CachedCheck extends CacheKey {
  virtType: VirtType;
  reason: string;
  /** ISO time of the check. */
  checkedAt: string;
}

export type CacheRead = { hit: CachedCheck } | { miss: string };

/** The id the kernel gives this boot; a reboot changes it. */
export async function readBootId(path = BOOT_ID_PATH): Promise<string> {
  const id = (await readFile(path, "utf8")).trim();
  if (id === "") throw new Error(`${path} is empty`);
  return id;
}

/** The kept result when it is for `key`; otherwise why not, in plain words. */
export async function readCachedCheck(path: string, key: CacheKey): Promise<CacheRead> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { miss: "no result kept yet" };
    return { miss: `the kept result is unreadable (${firstLine(error)})` };
  }
  let entry: CachedCheck | undefined;
  try {
    entry = parseEntry(JSON.parse(text));
  } catch (error) {
    return { miss: `the kept result is not JSON (${firstLine(error)})` };
  }
  if (entry === undefined) return { miss: "the kept result is malformed" };
  if (entry.bootId !== key.bootId) return { miss: "the kept result is from another boot" };
  if (entry.uri !== key.uri) return { miss: `the kept result is for ${entry.uri}` };
  if (entry.check !== key.check) return { miss: "the kept result is from an older check" };
  return { hit: entry };
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
export async function writeCachedCheck(path: string, entry: CachedCheck): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(entry, null, 2)}\n`);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function parseEntry(value: unknown): CachedCheck | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { bootId, uri, check, virtType, reason, checkedAt } = value as Record<string, unknown>;
  if (virtType !== "kvm" && virtType !== "qemu") return undefined;
  if (typeof bootId !== "string" || typeof uri !== "string") return undefined;
  if (typeof reason !== "string" || typeof checkedAt !== "string") return undefined;
  // Results of the first check, which booted the kernel directly, have none.
  return {
    bootId,
    uri,
    check: typeof check === "string" ? check : "",
    virtType,
    reason,
    checkedAt,
  };
}

export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}
