// addinterface and removeinterface: the imperative hot-plug API, turned into
// the VMI's next generation exactly as "headroom apply" of the edited VMI
// would be. The pipeline carries it to the launcher; the reply names the
// generation, and the VMI's status tells how it went once it reaches it.
import { randomUUID } from "node:crypto";
import {
  ApiError,
  encode,
  type Logger,
  refusedSubject,
  retryCompareAndSet,
  storeKey,
} from "@headroom/bus";
import {
  type AddInterfaceRequest,
  exhaustedMessage,
  type IApplyReply,
  type IInterfaceReply,
  InterfaceRefused,
  InterfaceState,
  Phase,
  type RemoveInterfaceRequest,
  type VmiStatus,
} from "@headroom/proto";
import { type Vmi, withInterfaceAdded, withInterfaceRemoved } from "@headroom/vmi";
import { type CheckedManifest, checkManifest, type StoredVmi } from "./apply.ts";
import { identify, readStatus, readStored } from "./records.ts";
import { type StoreDeps, storeOnce } from "./store.ts";

/** The stored VMI and its status, or an ApiError when it is not a running VMI. */
async function runningVmi(deps: StoreDeps, namespace: string, name: string, log: Logger) {
  const key = storeKey(namespace, name);
  const stored = await readStored(deps.vmis, key);
  if (!stored) throw new ApiError("NOT_FOUND", `vmi ${namespace}/${name} not found`);
  const status = await readStatus(deps.status, key, log);
  if (status?.uid !== stored.record.uid || status.phase !== Phase.PHASE_RUNNING)
    throw new ApiError("CONFLICT", `vmi ${namespace}/${name} is not running`);
  return { stored, status };
}

/**
 * Slots the launcher last reported free, less the interfaces the VMI gained
 * since (a generation on its way will take them).
 */
export function freeSlots(status: VmiStatus, vmi: Vmi): number {
  const present = new Set(
    (status.interfaces ?? [])
      .filter((i) => i.state === InterfaceState.INTERFACE_STATE_ATTACHED)
      .map((i) => i.name),
  );
  const coming = vmi.spec.domain.devices.interfaces.filter((i) => !present.has(i.name)).length;
  return (status.capacity?.free ?? 0) - coming;
}

/** A rejection of the edited VMI as the reply says it: every field error. */
function invalid(errors: { field?: string | null; message?: string | null }[]): IInterfaceReply {
  const message = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  return { ok: false, reason: "Invalid", message };
}

/** Stores the edited VMI as the next generation of `stored`; a rejection is the reply's. */
async function storeEdited(
  deps: StoreDeps,
  stored: StoredVmi,
  checked: CheckedManifest & { ok: true },
  log: Logger,
): Promise<IInterfaceReply> {
  const reply: IApplyReply = await storeOnce(deps, checked, stored, false, log);
  if (reply.rejected) return invalid(reply.rejected.errors ?? []);
  return { ok: true, generation: reply.accepted?.generation ?? 0 };
}

export async function addInterface(
  deps: StoreDeps,
  req: AddInterfaceRequest,
  log: Logger,
): Promise<IInterfaceReply> {
  const { namespace, name } = identify(req);
  const { interfaceName, networkName } = req;
  return retryCompareAndSet(
    async () => {
      const { stored, status } = await runningVmi(deps, namespace, name, log);
      const edited = withInterfaceAdded(stored.vmi, {
        name: interfaceName,
        networkName,
        ...(req.mac ? { macAddress: req.mac } : {}),
      });
      // Checked before the room: a refusal carries only a name the VMI could have.
      const checked = checkManifest(JSON.stringify(edited));
      if (!checked.ok) return invalid(checked.errors);
      if (freeSlots(status, stored.vmi) <= 0)
        return refuse(deps, stored, status, interfaceName, log);
      return storeEdited(deps, stored, checked, log);
    },
    {
      gaveUp: () => conflict(namespace, name),
      onLost: (n) => log.debug({ attempt: n }, "lost a race"),
    },
  );
}

export async function removeInterface(
  deps: StoreDeps,
  req: RemoveInterfaceRequest,
  log: Logger,
): Promise<IInterfaceReply> {
  const { namespace, name } = identify(req);
  const { interfaceName } = req;
  return retryCompareAndSet(
    async () => {
      const { stored } = await runningVmi(deps, namespace, name, log);
      const edited = withInterfaceRemoved(stored.vmi, interfaceName);
      if (!edited)
        throw new ApiError(
          "NOT_FOUND",
          `vmi ${namespace}/${name} has no interface ${interfaceName}`,
        );
      const checked = checkManifest(JSON.stringify(edited));
      if (!checked.ok) return invalid(checked.errors);
      return storeEdited(deps, stored, checked, log);
    },
    {
      gaveUp: () => conflict(namespace, name),
      onLost: (n) => log.debug({ attempt: n }, "lost a race"),
    },
  );
}

/**
 * No room: the VMI stays as it was; the launcher, which writes the capacity
 * events, records the refusal as an "exhausted" event.
 */
async function refuse(
  deps: StoreDeps,
  stored: StoredVmi,
  status: VmiStatus,
  interfaceName: string,
  log: Logger,
): Promise<IInterfaceReply> {
  const { namespace, name, uid } = stored.record;
  const refusalId = randomUUID();
  await deps.js.publish(
    refusedSubject(namespace, name),
    encode(InterfaceRefused, { namespace, name, uid, interfaceName, refusalId }),
    { msgID: `${uid}:refused:${refusalId}` },
  );
  const message = exhaustedMessage(stored.record, status.capacity, interfaceName);
  log.info({ key: storeKey(namespace, name), interface: interfaceName }, message);
  return {
    ok: false,
    reason: "Exhausted",
    message,
    ...(status.capacity ? { capacity: status.capacity } : {}),
  };
}

function conflict(namespace: string, name: string): ApiError {
  return new ApiError(
    "CONFLICT",
    `vmi ${namespace}/${name} kept changing while it was edited; try again`,
  );
}
