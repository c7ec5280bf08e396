import { interfaceXmlByAlias, pinInterface } from "@headroom/domain-xml";
import { type Connection, type Domain, ErrorCode, isLibvirtError } from "@headroom/libvirt";
import { inspectRunning, type RunningView } from "./launch.ts";

/** No free hot-pluggable slot is left in the domain. */
export class NoRoomError extends Error {
  constructor(
    readonly inUse: number,
    cause?: unknown,
  ) {
    super(`no free PCI slot is left (${inUse} interfaces in use)`, { cause });
    this.name = "NoRoomError";
  }
}

/** The guest did not release a NIC in time; it is still attached. */
export class DetachTimeoutError extends Error {
  constructor(
    readonly alias: string,
    readonly timeoutMs: number,
  ) {
    super(`the guest did not release ${alias} within ${timeoutMs / 1000} s; it is still attached`);
    this.name = "DetachTimeoutError";
  }
}

function isNoSlotError(error: unknown): boolean {
  return isLibvirtError(error) && /no more available PCI slots/i.test(error.message);
}

/**
 * Hot-plugs a NIC into a running domain, live and persistently: live first,
 * then into the persistent definition pinned to the MAC and PCI address the
 * live attach got, so the NIC is in the same place after a restart.
 * Idempotent: a NIC whose alias is already there is left as it is.
 * Throws NoRoomError when no free slot is left; the domain is then unchanged.
 */
export async function attachNic(
  domain: Domain,
  interfaceXml: string,
  alias: string,
): Promise<RunningView> {
  const before = await inspectRunning(domain);
  const inUse = before.interfaces.filter((nic) => !nic.placeholder).length;
  if (!before.interfaces.some((nic) => nic.alias === alias)) {
    if (before.freeSlots.length === 0) throw new NoRoomError(inUse);
    try {
      await domain.attachDevice(interfaceXml, { live: true });
    } catch (error) {
      if (isNoSlotError(error)) throw new NoRoomError(inUse, error);
      throw error;
    }
  }
  const after = await inspectRunning(domain);
  const live = after.interfaces.find((nic) => nic.alias === alias);
  if (!live?.mac || !live.pciAddress)
    throw new Error(`${alias} is not in the live XML after attaching it`);
  const config = await domain.getXmlDesc({ inactive: true });
  if (interfaceXmlByAlias(config, alias) === undefined) {
    await domain.attachDevice(
      pinInterface(interfaceXml, { mac: live.mac, pciAddress: live.pciAddress }),
      {
        config: true,
      },
    );
  }
  return after;
}

/**
 * Unplugs a NIC: asks the guest to release it, waits for libvirt's
 * device-removed event (or the NIC's absence from the live XML), then removes
 * it from the persistent definition. A guest that does not release it in time
 * keeps it: DetachTimeoutError, and the persistent definition is unchanged.
 * Idempotent: a NIC that is not there is fine.
 */
export async function detachNic(
  conn: Connection,
  domain: Domain,
  alias: string,
  timeoutMs = 30_000,
): Promise<RunningView> {
  const initially = await inspectRunning(domain);
  if (initially.interfaces.some((nic) => nic.alias === alias)) {
    let removed!: () => void;
    const gone = new Promise<void>((resolve) => {
      removed = resolve;
    });
    const unsubscribe = await conn.onDomainEvent(
      (event) => {
        if (event.kind === "device-removed" && event.alias === alias) removed();
      },
      { domain, kinds: ["device-removed"] },
    );
    try {
      try {
        await domain.detachDeviceAlias(alias, { live: true });
      } catch (error) {
        // Already on its way out from an earlier request: keep waiting.
        if (!isLibvirtError(error, ErrorCode.OPERATION_FAILED)) throw error;
      }
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const view = await inspectRunning(domain);
        if (!view.interfaces.some((nic) => nic.alias === alias)) break;
        const left = deadline - Date.now();
        if (left <= 0) throw new DetachTimeoutError(alias, timeoutMs);
        await Promise.race([
          gone,
          new Promise((resolve) => setTimeout(resolve, Math.min(left, 500))),
        ]);
      }
    } finally {
      await unsubscribe();
    }
  }
  const config = await domain.getXmlDesc({ inactive: true });
  if (interfaceXmlByAlias(config, alias) !== undefined) {
    await domain.detachDeviceAlias(alias, { config: true });
  }
  return inspectRunning(domain);
}
