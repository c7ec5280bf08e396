// headroom.api.v1.node.<node>.vmi.describe: capacity and interfaces read from the live domain.
import { ApiError, errorText, storeKey } from "@headroom/bus";
import { inspectRunning, isHeadroomDomain, leasedAddresses } from "@headroom/domain-manager";
import { domainNameOf } from "@headroom/host-state";
import type { DescribeRequest, IDescribeReply } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import { statusOf } from "./events.ts";

export async function describeVmi(
  ctx: LauncherContext,
  req: DescribeRequest,
): Promise<IDescribeReply> {
  const { namespace, name } = req;
  const key = storeKey(namespace, name);
  const stored = await ctx.readStored(key);
  const domain = await ctx.libvirt().findDomain(requestedDomainName(namespace, name));
  if (!stored || !domain || !(await domain.isActive()) || !(await isHeadroomDomain(domain)))
    return {
      found: false,
      message: `vmi ${namespace}/${name} has no running domain on ${ctx.node}`,
    };
  const status = await ctx.readStatus(key);
  const live = statusOf(
    ctx,
    {
      uid: stored.uid,
      generation: Number(status?.observedGeneration ?? stored.generation),
      domainName: domain.name,
      capacity: stored.capacity,
    },
    await inspectRunning(domain),
    status?.capacity?.controllersAdded ?? 0,
  );
  // Addresses are a courtesy: without them, describe still shows the rest.
  const leases = await leasedAddresses(domain).catch(() => new Map<string, string>());
  for (const iface of live.interfaces ?? []) {
    const address = leases.get((iface.mac ?? "").toLowerCase());
    if (address) iface.ipAddress = address;
  }
  return { found: true, live };
}

/** The domain name of a VMI a request names; a name that cannot be a VMI's is the caller's mistake. */
function requestedDomainName(namespace: string, name: string): string {
  try {
    return domainNameOf(namespace, name);
  } catch (error) {
    throw new ApiError("BAD_REQUEST", errorText(error));
  }
}
