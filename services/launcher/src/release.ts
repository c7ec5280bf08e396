// A deleted VMI: its domain destroyed and undefined, its files removed, its
// status cleared and its room given back (a released event).
import { rm } from "node:fs/promises";
import { errorText, type Logger, PermanentError, storeKey } from "@headroom/bus";
import { domainOwner, removeDomain, shutDownGuest } from "@headroom/domain-manager";
import { domainNameOf, domainUuidOf } from "@headroom/host-state";
import type { Domain } from "@headroom/libvirt";
import type { IVmiStatus, VmiDeleted } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import { CapacityEventType, publishEvent } from "./events.ts";
import { releaseVolumes, stopWaiting } from "./volumes.ts";

export async function releaseVmi(ctx: LauncherContext, deleted: VmiDeleted): Promise<void> {
  const { namespace, name, uid } = deleted;
  const key = storeKey(namespace, name);
  const log = ctx.log.child({ vmi: `${namespace}/${name}`, uid });
  let domainName: string;
  try {
    domainName = domainNameOf(namespace, name);
  } catch (error) {
    // Not a VMI headroom could have accepted: nothing to release, never worth a retry.
    throw new PermanentError(
      `deletion of ${JSON.stringify(`${namespace}/${name}`)}: ${errorText(error)}`,
    );
  }
  const domain = await ctx.libvirt().findDomain(domainName);
  const last: IVmiStatus = (await ctx.readStatus(key)) ?? { node: ctx.node, capacity: {} };
  // Someone else's domain under the name this VMI would have had: never ours to remove.
  const owner = domain ? await domainOwner(domain) : undefined;
  const foreign = domain !== undefined && owner === undefined;
  if (foreign) log.warn({ domain: domainName }, "domain was not defined by headroom; left alone");
  // The mark holds the uid (the domain's UUID may be the VMI's firmware.uuid).
  if (domain && !foreign && owner !== domainUuidOf(uid)) {
    // A VMI of the same name was created again; its domain is not ours to remove.
    log.warn({ domain: domainName }, "domain belongs to a newer VMI; left alone");
  } else {
    if (domain && !foreign) {
      await shutDown(domain, Number(deleted.terminationGracePeriodSeconds), log);
      await removeDomain(domain);
    }
    await ctx.ports.close(domainName);
    await rm(ctx.state.vmDir(namespace, name), { recursive: true, force: true });
    await stopWaiting(ctx, uid);
    const volumes = await releaseVolumes(ctx, uid);
    if (volumes.length > 0) log.info({ volumes }, "volumes released");
    if ((await ctx.readStored(key)) === null && (!last.uid || last.uid === uid)) {
      await ctx.buckets.status.delete(key);
    }
  }
  const released: IVmiStatus = { ...last, capacity: { ...last.capacity, free: 0, inUse: 0 } };
  await publishEvent(
    ctx,
    deleted,
    CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED,
    released,
    `${uid}:released`,
  );
  log.info({ domain: domainName, removed: domain !== undefined && !foreign }, "released");
}

/** KubeVirt's bound is int64; a day is as long as headroom waits for a guest. */
const MAX_GRACE_SECONDS = 24 * 60 * 60;

/**
 * As KubeVirt deletes a VMI: the guest's power button, then the domain is
 * destroyed (by removeDomain) if the guest did not power off within its
 * terminationGracePeriodSeconds. 0 (and deletions from an earlier headroom)
 * skip the wait.
 */
async function shutDown(domain: Domain, graceSeconds: number, log: Logger): Promise<void> {
  const grace = Math.min(Math.max(0, Math.trunc(graceSeconds) || 0), MAX_GRACE_SECONDS);
  if (grace === 0) return;
  const outcome = await shutDownGuest(domain, { graceMs: grace * 1000 });
  // Not running (defined only, or gone meanwhile): nothing was asked of a guest.
  if (outcome.presses === 0) return;
  const fields = { graceSeconds: grace, ms: outcome.elapsedMs, presses: outcome.presses };
  if (outcome.stopped) log.info(fields, "guest shut down");
  else log.warn(fields, "guest did not shut down within its grace period; destroying it");
}
