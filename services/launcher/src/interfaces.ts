// Bringing a running domain's NICs in line with its plan: attach what the plan
// has and the domain lacks, detach what the domain has and the plan dropped.

import {
  attachNic,
  DetachTimeoutError,
  detachNic,
  NoRoomError,
  type RunningView,
} from "@headroom/domain-manager";
import { interfacesOf, interfaceXmlByAlias, NIC_ALIAS_PREFIX } from "@headroom/domain-xml";
import type { Connection, Domain } from "@headroom/libvirt";

export type InterfaceChange =
  | { kind: "attached"; name: string; view: RunningView }
  /** `note` says more in the log: " on retry". */
  | { kind: "detached"; name: string; view: RunningView; note?: string }
  | { kind: "exhausted"; name: string; inUse: number }
  | { kind: "failed"; name: string; reason: string; direction: "attach" | "detach" };

/** Names of the VMI's NICs in a domain XML (aliases ua-headroom-nic-<name>). */
export function vmiNicNames(xml: string): string[] {
  return interfacesOf(xml).flatMap((nic) =>
    nic.alias?.startsWith(NIC_ALIAS_PREFIX) ? [nic.alias.slice(NIC_ALIAS_PREFIX.length)] : [],
  );
}

/** Attaches and detaches NICs until the domain has the plan's; reports each change. */
export async function reconcileInterfaces(
  conn: Connection,
  domain: Domain,
  planXml: string,
  liveXml: string,
  detachTimeoutMs: number,
): Promise<InterfaceChange[]> {
  const wanted = vmiNicNames(planXml);
  const present = vmiNicNames(liveXml);
  const changes = await detachUnwanted(conn, domain, wanted, liveXml, detachTimeoutMs);
  for (const name of wanted.filter((n) => !present.includes(n))) {
    const alias = `${NIC_ALIAS_PREFIX}${name}`;
    const xml = interfaceXmlByAlias(planXml, alias);
    if (!xml) continue;
    try {
      const view = await attachNic(domain, xml, alias);
      changes.push({ kind: "attached", name, view });
    } catch (error) {
      if (error instanceof NoRoomError)
        changes.push({ kind: "exhausted", name, inUse: error.inUse });
      else
        changes.push({
          kind: "failed",
          name,
          reason: `attach failed: ${(error as Error).message}`,
          direction: "attach",
        });
    }
  }
  return changes;
}

/** Detaches the VMI NICs of the live domain that `wanted` does not name; reports each. */
export async function detachUnwanted(
  conn: Connection,
  domain: Domain,
  wanted: readonly string[],
  liveXml: string,
  detachTimeoutMs: number,
): Promise<InterfaceChange[]> {
  const changes: InterfaceChange[] = [];
  for (const name of vmiNicNames(liveXml).filter((n) => !wanted.includes(n))) {
    try {
      const view = await detachNic(conn, domain, `${NIC_ALIAS_PREFIX}${name}`, detachTimeoutMs);
      changes.push({ kind: "detached", name, view });
    } catch (error) {
      const reason =
        error instanceof DetachTimeoutError
          ? error.message
          : `detach failed: ${(error as Error).message}`;
      changes.push({ kind: "failed", name, reason, direction: "detach" });
    }
  }
  return changes;
}
