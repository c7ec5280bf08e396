// Network attachments, decided without I/O: what a valid name and bridge are,
// what creating one means given what is stored, and which VMIs use one.
import { networkAttachment, type Vmi } from "@headroom/vmi";

// What a multus networkName may be (and a KV key, unchanged).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// IFNAMSIZ - 1 characters; Linux also allows other bytes, headroom makes only these.
const INTERFACE_NAME = /^[A-Za-z0-9_-]{1,15}$/;

/** Why `name` cannot name a network attachment, or null when it can. */
export function networkNameProblem(name: string): string | null {
  if (name === "") return "name is required";
  if (!DNS_LABEL.test(name))
    return (
      `name ${JSON.stringify(name)} is not a DNS-1123 label: at most 63 lower-case letters, ` +
      "digits and '-', starting and ending with a letter or digit"
    );
  return null;
}

/** Why `bridge` cannot be a host bridge, or null when it can. */
export function bridgeNameProblem(bridge: string): string | null {
  if (bridge === "") return "bridge is required";
  if (!INTERFACE_NAME.test(bridge))
    return (
      `bridge ${JSON.stringify(bridge)} is not a Linux interface name: 1 to 15 letters, ` +
      "digits, '_' or '-'"
    );
  if (bridge === "lo") return 'bridge "lo" is the loopback interface, not a bridge';
  return null;
}

export type CreateDecision =
  | { kind: "invalid"; error: string }
  /** Nothing stored under that name: store it. */
  | { kind: "create" }
  /** Stored with the same bridge: nothing to do. */
  | { kind: "unchanged" }
  /** Stored with another bridge: refused, a bridge cannot change. */
  | { kind: "conflict"; error: string };

/** What creating `name` → `bridge` means when `stored` (or nothing) has that name. */
export function decideCreate(
  request: { name: string; bridge: string },
  stored: { bridge: string } | null,
): CreateDecision {
  const problems = [networkNameProblem(request.name), bridgeNameProblem(request.bridge)].filter(
    (problem): problem is string => problem !== null,
  );
  if (problems.length > 0) return { kind: "invalid", error: problems.join("; ") };
  if (stored === null) return { kind: "create" };
  if (stored.bridge === request.bridge) return { kind: "unchanged" };
  return {
    kind: "conflict",
    error:
      `network attachment '${request.name}' exists with bridge '${stored.bridge}' and its ` +
      `bridge cannot change; delete it first (headroom delete network ${request.name}), ` +
      "then create it again",
  };
}

/** The network attachments a VMI's multus networks join. */
export function networksUsedBy(vmi: Pick<Vmi, "spec">): string[] {
  const names = (vmi.spec?.networks ?? []).flatMap((network) =>
    network.multus?.networkName ? [networkAttachment(network.multus.networkName)] : [],
  );
  return [...new Set(names)];
}

/** Why a network that `users` ("<namespace>/<name>") join cannot be deleted. */
export function inUseMessage(name: string, users: string[]): string {
  const noun = users.length === 1 ? "vmi" : "vmis";
  return (
    `network attachment '${name}' is used by ${noun} ${users.join(", ")}; ` +
    "delete them or remove their interfaces on it first"
  );
}

export function notFoundMessage(name: string): string {
  return `network attachment '${name}' does not exist`;
}

/** The reason a VMI fails when it names a network that is not there. */
export function missingNetworkMessage(name: string): string {
  return (
    `network attachment '${name}' does not exist; ` +
    `create it with: headroom network create ${name} --bridge BRIDGE`
  );
}
