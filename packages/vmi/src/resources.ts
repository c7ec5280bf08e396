import { toBytes } from "@headroom/quantity";
import type { MachineType, Vmi } from "./types.ts";

/** What a VMI's guest gets: the domain's memory, vCPUs, machine and firmware. */
export interface GuestResources {
  /** spec.domain.memory.guest in KiB, rounded up to a whole KiB (libvirt counts KiB). */
  memoryKiB: number;
  /** cores × sockets × threads (each 1 when absent). */
  vcpus: number;
  machineType: MachineType;
  /** SeaBIOS unless the VMI asks for efi (OVMF). */
  bootloader: "bios" | "efi";
  secureBoot: boolean;
  /** System Management Mode (features.smm). */
  smm: boolean;
  /** firmware.uuid in lower case: the domain's UUID instead of one made from the VMI's uid. */
  firmwareUuid?: string;
  /** The masquerade interfaces' ports: guest TCP ports the host forwards to. */
  ports: GuestPort[];
}

export interface GuestPort {
  interface: string;
  name?: string;
  port: number;
  protocol: "TCP";
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
  const { cpu, firmware, features } = vmi.spec.domain;
  const efi = firmware?.bootloader && "efi" in firmware.bootloader ? firmware.bootloader.efi : null;
  return {
    ok: true,
    resources: {
      memoryKiB: Number(kib),
      vcpus: (cpu?.cores ?? 1) * (cpu?.sockets ?? 1) * (cpu?.threads ?? 1),
      machineType: vmi.spec.domain.machine.type,
      bootloader: efi ? "efi" : "bios",
      secureBoot: efi?.secureBoot === true,
      smm: features?.smm !== undefined && features.smm.enabled !== false,
      ...(firmware?.uuid !== undefined && { firmwareUuid: firmware.uuid.toLowerCase() }),
      ports: vmi.spec.domain.devices.interfaces.flatMap((iface) =>
        (iface.ports ?? []).map((port) => ({ interface: iface.name, ...port })),
      ),
    },
  };
}
