// Hot-plugging and unplugging a running VMI's NICs: the validator turns the
// request into the VMI's next generation (headroom.api.v1.vmi.addinterface /
// removeinterface); the launcher carries it out and its status tells how it
// went, which is waited for here.
import { API_SUBJECTS } from "@headroom/bus/client";
import {
  AddInterfaceRequest,
  type ICapacityStatus,
  type IInterfaceStatus,
  InterfaceReply,
  InterfaceState,
  ListNetworksReply,
  ListNetworksRequest,
  RemoveInterfaceRequest,
} from "@headroom/proto";
import { networkAttachment } from "@headroom/vmi";
import type { HeadroomClient } from "../client.ts";
import { POD_NETWORK } from "../constants.ts";
import { formatSeconds } from "../duration.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE } from "../exit-codes.ts";

/** How often the wait for the launcher's word asks again. */
const POLL_MS = 200;

/** "capacity: 5 requested, 4 in use, 1 free" */
export function capacitySummary(capacity: ICapacityStatus | null | undefined): string {
  const c = capacity ?? {};
  const room = c.requested != null ? `${c.requested} requested` : `${c.effective ?? 0} effective`;
  return `capacity: ${room}, ${c.inUse ?? 0} in use, ${c.free ?? 0} free`;
}

export interface AddInterfaceOptions {
  namespace: string;
  name: string;
  interfaceName: string;
  networkName: string;
  mac?: string;
  timeoutMs: number;
  write: (text: string) => void;
}

export async function addInterface(
  client: HeadroomClient,
  options: AddInterfaceOptions,
): Promise<number> {
  const { namespace, name, interfaceName, networkName } = options;
  if (networkName !== POD_NETWORK) await requireNetwork(client, networkName);
  const reply = await client.call(
    API_SUBJECTS.addInterface,
    AddInterfaceRequest,
    { namespace, name, interfaceName, networkName, mac: options.mac ?? "" },
    InterfaceReply,
    { timeoutMs: options.timeoutMs },
  );
  if (!reply.ok) throw refusal(reply, name, interfaceName, "attached");
  const deadline = Date.now() + options.timeoutMs;
  const outcome = await waitForGeneration(client, options, Number(reply.generation), deadline);
  const iface = outcome.interfaces?.find((i) => i.name === interfaceName);
  if (iface?.state !== InterfaceState.INTERFACE_STATE_ATTACHED)
    throw refusal(launcherWord(outcome, "AttachFailed"), name, interfaceName, "attached");
  options.write(
    `vmi/${name}: interface ${interfaceName} attached (${capacitySummary(outcome.capacity)})\n`,
  );
  return EXIT_OK;
}

export interface RemoveInterfaceOptions {
  namespace: string;
  name: string;
  interfaceName: string;
  timeoutMs: number;
  write: (text: string) => void;
}

export async function removeInterface(
  client: HeadroomClient,
  options: RemoveInterfaceOptions,
): Promise<number> {
  const { namespace, name, interfaceName } = options;
  const reply = await client.call(
    API_SUBJECTS.removeInterface,
    RemoveInterfaceRequest,
    { namespace, name, interfaceName },
    InterfaceReply,
    { timeoutMs: options.timeoutMs },
  );
  if (!reply.ok) throw refusal(reply, name, interfaceName, "detached");
  const deadline = Date.now() + options.timeoutMs;
  const outcome = await waitForGeneration(client, options, Number(reply.generation), deadline);
  if (outcome.interfaces?.some((i) => i.name === interfaceName))
    throw refusal(launcherWord(outcome, "DetachFailed"), name, interfaceName, "detached");
  options.write(
    `vmi/${name}: interface ${interfaceName} detached (${capacitySummary(outcome.capacity)})\n`,
  );
  return EXIT_OK;
}

interface Outcome {
  interfaces?: IInterfaceStatus[] | null;
  capacity?: ICapacityStatus | null;
  reason?: string | null;
}

/** The VMI's status once the launcher has carried out `generation`. */
async function waitForGeneration(
  client: HeadroomClient,
  vmi: { namespace: string; name: string; timeoutMs: number },
  generation: number,
  deadline: number,
): Promise<Outcome> {
  for (;;) {
    const status = await client.readStatus(vmi.namespace, vmi.name);
    if (status && Number(status.observedGeneration) >= generation) return status;
    if (Date.now() >= deadline)
      throw new CliError(
        `timed out after ${formatSeconds(vmi.timeoutMs)} waiting for vmi/${vmi.name} to carry out generation ${generation}`,
        EXIT_UNREACHABLE,
      );
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, deadline - Date.now())));
  }
}

/** The launcher's status as a refusal: its reason says what happened; no room is "Exhausted". */
function launcherWord(outcome: Outcome, failed: string): InterfaceReply {
  const message = outcome.reason || "the change did not take effect";
  const reason = /has no free slot for interface/.test(message) ? "Exhausted" : failed;
  return InterfaceReply.create({ ok: false, reason, message });
}

/**
 * A multus network that does not exist would only fail later, in the domain
 * composer, after the VMI was changed; say so before anything changes.
 */
async function requireNetwork(client: HeadroomClient, networkName: string): Promise<void> {
  const { networks } = await client.call(
    API_SUBJECTS.listNetworks,
    ListNetworksRequest,
    {},
    ListNetworksReply,
    { read: true },
  );
  if (networks.some((network) => network.name === networkAttachment(networkName))) return;
  const known = networks.map((network) => network.name).join(", ");
  throw new CliError(
    `network/${networkName} not found: use "${POD_NETWORK}" or a network attachment` +
      `${known ? ` (${known})` : ""}, or create it with: headroom network create ${networkName} --bridge BRIDGE`,
    EXIT_INVALID,
  );
}

/**
 * headroom's own words when it refused or failed: an exhausted VMI's message
 * is the whole story; other failures say what did not happen first.
 */
function refusal(
  reply: InterfaceReply,
  name: string,
  interfaceName: string,
  what: "attached" | "detached",
): CliError {
  if (reply.reason === "Exhausted" && reply.message)
    return new CliError(reply.message, EXIT_INVALID);
  // The launcher's reason may name the interface first ("third: …"); the line here does already.
  const message = reply.message.startsWith(`${interfaceName}: `)
    ? reply.message.slice(interfaceName.length + 2)
    : reply.message;
  const why = message || "headroom gave no reason";
  const reason = reply.reason ? ` (${reply.reason})` : "";
  // A guest that did not release a NIC keeps it: the launcher's message says so.
  return new CliError(
    `vmi/${name}: interface ${interfaceName} was not ${what}${reason}: ${why}`,
    EXIT_INVALID,
  );
}
