// Handing work to the host a VMI is placed on: its plans, its deletion, its
// refused hot-plugs; and telling, once per loss, of VMIs whose host is lost.
// Each host reads only its own subjects, so the placement decides who hears.
import {
  capacitySubject,
  deletedMsgId,
  encode,
  type HostWorkKind,
  hostWorkSubject,
  type JetStreamClient,
  type Logger,
  parseStoreKey,
  planMsgId,
  storeKey,
} from "@headroom/bus";
import {
  CapacityEvent,
  CapacityEventType,
  DomainPlan,
  InterfaceRefused,
  VmiDeleted,
} from "@headroom/proto";
import type { ComposedPlan } from "./compose_plan.ts";
import type { FailedPlan } from "./composer.ts";
import type { Placements } from "./placements.ts";

export interface HostRouting {
  /** Hands a host the plan of one generation (the composed one, or one that says why not). */
  handPlan(node: string, plan: ComposedPlan | FailedPlan): Promise<boolean>;
  /** A deleted VMI's host releases it; a Pending one just stops waiting. */
  handleDeleted(deleted: VmiDeleted): Promise<void>;
  /** A refused hot-plug is recorded by the launcher of the VMI's host. */
  handleRefused(refused: InterfaceRefused): Promise<void>;
  /** Stops looking for lost hosts. */
  stop(): void;
}

/** How often the composer looks for VMIs on lost hosts. */
const LOST_HOSTS_CHECK_MS = 1000;

/** Starts looking for lost hosts at once; stop() ends that. */
export function hostRouting(deps: {
  js: JetStreamClient;
  placements: Placements;
  log: Logger;
  now: () => number;
}): HostRouting {
  const { js, placements, log, now } = deps;

  /** Hands a host its work; true when the stream already had it (handed on again). */
  const handTo = async (
    node: string,
    kind: HostWorkKind,
    vmi: { namespace: string; name: string },
    data: Uint8Array,
    msgID: string,
  ) => {
    const ack = await js.publish(hostWorkSubject(node, kind, vmi.namespace, vmi.name), data, {
      msgID,
    });
    return ack.duplicate;
  };

  const handPlan = (node: string, plan: ComposedPlan | FailedPlan) =>
    handTo(node, "plan", plan, encode(DomainPlan, plan), planMsgId(plan.uid, plan.generation));

  const handleDeleted = async (deleted: VmiDeleted) => {
    const { namespace, name, uid } = deleted;
    const vlog = log.child({ vmi: `${namespace}/${name}`, uid });
    const node = await placements.nodeOf(storeKey(namespace, name), uid);
    if (node) {
      const duplicate = await handTo(
        node,
        "release",
        deleted,
        encode(VmiDeleted, deleted),
        deletedMsgId(uid),
      );
      vlog.info({ node, duplicate }, "deletion handed to its host");
    } else vlog.info("deleted before it was placed: no host to tell");
    await placements.release(storeKey(namespace, name), uid);
  };

  const handleRefused = async (refused: InterfaceRefused) => {
    const { namespace, name, uid } = refused;
    const node = await placements.nodeOf(storeKey(namespace, name), uid);
    const rlog = log.child({ vmi: `${namespace}/${name}`, uid, interface: refused.interfaceName });
    if (!node) {
      rlog.info("refused hot-plug of a VMI not placed (Pending or gone): nothing to record");
      return;
    }
    await handTo(node, "refused", refused, encode(InterfaceRefused, refused), refused.refusalId);
    rlog.info({ node }, "refused hot-plug handed to its host");
  };

  // A VMI whose host is lost is Failed, NodeLost (readers derive it from the
  // host's record); its capacity event says so, once per loss.
  const told = new Set<string>();
  const tellLost = async () => {
    for (const { key, placement, loss } of placements.onLostHosts(now())) {
      const msgID = `${placement.uid}:node-lost:${loss.sinceUnixMs}`;
      if (told.has(msgID)) continue;
      const { namespace, name } = parseStoreKey(key);
      const event = CapacityEvent.create({
        type: CapacityEventType.CAPACITY_EVENT_TYPE_NODE_LOST,
        namespace,
        name,
        uid: placement.uid,
        node: placement.node,
        message: loss.reason,
        timestampUnixMs: now(),
      });
      await js.publish(capacitySubject(namespace, name), encode(CapacityEvent, event), { msgID });
      told.add(msgID);
      log.warn(
        { vmi: `${namespace}/${name}`, uid: placement.uid, node: placement.node },
        loss.reason,
      );
    }
  };
  const lostTimer = setInterval(
    () =>
      void tellLost().catch((error: unknown) =>
        log.warn({ err: error }, "telling of lost hosts failed; tried again in a moment"),
      ),
    LOST_HOSTS_CHECK_MS,
  );

  return {
    handPlan,
    handleDeleted,
    handleRefused,
    stop: () => clearInterval(lostTimer),
  };
}
