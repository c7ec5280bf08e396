/** What a result was measured on, so figures are never quoted without their machine. */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Connection } from "@headroom/libvirt";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

/** A path inside the repository, whatever the working directory. */
export function repoPath(relative: string): string {
  return join(repoRoot, relative);
}

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** 1-minute load average when the benchmark started and when it ended. */
  loadAtStart: number;
  loadAtEnd?: number;
  libvirt?: string;
  qemu?: string;
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match?.[1]) return match[1].trim();
  } catch {
    // not Linux: fall through to what Node knows
  }
  return cpus()[0]?.model ?? "unknown";
}

/** libvirt's version numbers: 9000000 → "9.0.0". */
function dotted(version: number): string {
  return `${Math.floor(version / 1_000_000)}.${Math.floor(version / 1000) % 1000}.${version % 1000}`;
}

export async function describeMachine(conn?: Connection): Promise<Machine> {
  const machine: Machine = {
    cpuModel: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadAtStart: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
  if (conn) {
    machine.libvirt = dotted(await conn.getLibVersion());
    machine.qemu = dotted(await conn.getVersion());
  }
  return machine;
}

export function finishMachine(machine: Machine): Machine {
  return { ...machine, loadAtEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100 };
}

export function machineLine(machine: Machine): string {
  const software = machine.libvirt ? `, libvirt ${machine.libvirt}, QEMU ${machine.qemu}` : "";
  const load =
    machine.loadAtEnd === undefined
      ? `load ${machine.loadAtStart}`
      : `load ${machine.loadAtStart} → ${machine.loadAtEnd}`;
  return (
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ` +
    `Linux ${machine.kernel}, Node ${machine.node}${software}; ${load}`
  );
}

/**
 * JSON indented by level, except that an object or array holding only plain values stays on
 * one line: a sample or a summary reads as one row, and the file stays small.
 */
export function compactJson(value: unknown, indent = ""): string {
  const isLeaf = (v: unknown) => v === null || typeof v !== "object";
  if (isLeaf(value)) return JSON.stringify(value) ?? "null";
  const entries: [string | undefined, unknown][] = Array.isArray(value)
    ? value.map((v) => [undefined, v])
    : Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.every(([, v]) => isLeaf(v))) return JSON.stringify(value);
  const inner = `${indent}  `;
  const lines = entries.map(
    ([key, v]) =>
      `${inner}${key === undefined ? "" : `${JSON.stringify(key)}: `}${compactJson(v, inner)}`,
  );
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return `${open}\n${lines.join(",\n")}\n${indent}${close}`;
}

/** Writes a result document as compact JSON, creating its directory. */
export async function writeResult(path: string, result: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${compactJson(result)}\n`);
}
