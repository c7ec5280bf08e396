// An addinterface the validator refused for lack of room becomes an
// "exhausted" capacity event, counted from this host's live domain.
import { PermanentError, storeKey } from "@headroom/bus";
import { inspectRunning, isHeadroomDomain } from "@headroom/domain-manager";
import { isDnsLabel } from "@headroom/host-state";
import { exhaustedMessage, type InterfaceRefused, Phase } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import { CapacityEventType, publishEvent, statusOf } from "./events.ts";

export async function recordRefusal(
  ctx: LauncherContext,
  refused: InterfaceRefused,
): Promise<void> {
  const { namespace, name, uid, interfaceName } = refused;
  // The validator checked the name; a message from the pipeline is checked again.
  if (!isDnsLabel(interfaceName))
    throw new PermanentError(
      `refusal names no interface a VMI can have (${interfaceName.length} characters)`,
    );
  const key = storeKey(namespace, name);
  const log = ctx.log.child({ vmi: `${namespace}/${name}`, uid });
  const status = await ctx.readStatus(key);
  if (status?.uid !== uid || status.phase !== Phase.PHASE_RUNNING) {
    log.info({ interface: interfaceName }, "refusal of a VMI no longer running: no event");
    return;
  }
  const domain = await ctx.libvirt().findDomain(status.domainName ?? "");
  const live =
    domain && (await domain.isActive()) && (await isHeadroomDomain(domain))
      ? statusOf(
          ctx,
          {
            uid,
            generation: Number(status.observedGeneration),
            domainName: status.domainName ?? "",
            capacity: status.capacity,
          },
          await inspectRunning(domain),
          status.capacity?.controllersAdded ?? 0,
        )
      : status;
  const message = exhaustedMessage(refused, live.capacity, interfaceName);
  await publishEvent(
    ctx,
    refused,
    CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED,
    live,
    `${uid}:exhausted:${refused.refusalId}`,
    { interfaceName, message },
  );
  log.warn({ interface: interfaceName }, message);
}
