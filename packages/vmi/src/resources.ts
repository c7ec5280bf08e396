import { toBytes } from "@headroom/quantity";
import type { MachineType, Vmi } from "./types.ts";

/** What a VMI's guest gets: the domain's memory, vCPUs and machine. */
export interface GuestResources {
  /** spec.domain.memory.guest in KiB, rounded up to a whole KiB (libvirt counts KiB). */
  memoryKiB: number;
  /** cores × sockets × threads (each 1 when absent). */
  vcpus: number;
  machineType: MachineType;
}

const KIB = 1024n;

/**
 * The guest's resources, as the domain is composed with them and the launcher
 * checks a plan against them; `problem` names the field that cannot be one.
 */
export function guestResources(
  vmi: Pick<Vmi, "spec">,
): { ok: true; resources: GuestResources } | { ok: false; field: string; reason: string } {
  const field = "spec.domain.memory.guest";
  const parsed = toBytes(vmi.spec.domain.memory.guest);
  if (!parsed.ok) return { ok: false, field, reason: parsed.reason };
  const kib = (parsed.bytes + KIB - 1n) / KIB;
  if (kib < 1n || kib > BigInt(Number.MAX_SAFE_INTEGER))
    return { ok: false, field, reason: "is out of range" };
  const cpu = vmi.spec.domain.cpu;
  return {
    ok: true,
    resources: {
      memoryKiB: Number(kib),
      vcpus: (cpu?.cores ?? 1) * (cpu?.sockets ?? 1) * (cpu?.threads ?? 1),
      machineType: vmi.spec.domain.machine.type,
    },
  };
}
