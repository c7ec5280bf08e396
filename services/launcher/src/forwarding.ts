// When the launcher opens and closes a VMI's forwarded ports: as its domain
// runs (each plan), when it is released, and again for the domains still
// running when a launcher starts.
import { domainOwner } from "@headroom/domain-manager";
import { domainUuidOf } from "@headroom/host-state";
import type { VmiAccepted } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import { forEachVmiDomain } from "./host_domains.ts";

/** The running domain of `stored` forwards the ports its record lists, no others. */
export async function syncForwards(
  ctx: LauncherContext,
  domainName: string,
  stored: VmiAccepted,
): Promise<void> {
  if (ctx.defineOnly) return;
  const ports = stored.guest?.ports ?? [];
  const vmDir = ctx.state.vmDir(stored.namespace, stored.name);
  // The guest runs either way; the VMI's status shows the ports that are forwarded.
  await ctx.ports
    .sync(domainName, vmDir, ports)
    .catch((error: unknown) =>
      ctx.log.error(
        { vmi: `${stored.namespace}/${stored.name}`, err: error },
        "guest ports not forwarded: the host could not listen for them",
      ),
    );
}

/**
 * After a launcher restart: the ports of every VMI domain of `domainNames`
 * still running here, on their recorded host ports.
 */
export function reopenForwards(ctx: LauncherContext, domainNames: readonly string[]) {
  return forEachVmiDomain(
    ctx,
    domainNames,
    "forwarded ports not reopened",
    async (key, domainName) => {
      const stored = await ctx.readStored(key);
      if (!stored?.guest?.ports?.length) return;
      const domain = await ctx.libvirt().findDomain(domainName);
      if (!domain || !(await domain.isActive())) return;
      if ((await domainOwner(domain)) !== domainUuidOf(stored.uid)) return;
      await syncForwards(ctx, domainName, stored);
    },
  );
}
