// The VMI domains this host's libvirtd holds, looked at once when a launcher
// starts: which are this host's, and what became of them while no launcher ran.
import { storeKey } from "@headroom/bus";
import { vmiOfDomainName } from "@headroom/host-state";
import { Phase } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";

/**
 * Runs `work` for each VMI domain of `domainNames`, in its VMI's queue, one
 * after another; a failure is logged with `failed` and the next goes on.
 */
export async function forEachVmiDomain(
  ctx: LauncherContext,
  domainNames: readonly string[],
  failed: string,
  work: (
    key: string,
    domainName: string,
    vmi: { namespace: string; name: string },
  ) => Promise<void>,
): Promise<void> {
  for (const domainName of domainNames) {
    const vmi = vmiOfDomainName(domainName);
    if (!vmi) continue;
    const key = storeKey(vmi.namespace, vmi.name);
    await ctx.queue
      .run(key, () => work(key, domainName, vmi))
      .catch((error: unknown) => ctx.log.warn({ vmi: key, err: error }, failed));
  }
}

/**
 * The VMI domains whose status says this host runs them. Hosts that share a
 * libvirtd (several on one machine) each touch only their own.
 */
export async function domainsOfThisHost(
  ctx: LauncherContext,
  domainNames: readonly string[],
): Promise<string[]> {
  const own: string[] = [];
  for (const domainName of domainNames) {
    const vmi = vmiOfDomainName(domainName);
    if (!vmi) continue;
    const status = await ctx.readStatus(storeKey(vmi.namespace, vmi.name)).catch(() => null);
    if (status?.node === ctx.node) own.push(domainName);
  }
  return own;
}

/**
 * A domain its status calls Running that is not running (its QEMU ended while
 * the launcher was away) is Failed, saying so; the rest are as reported.
 */
export function reportStopped(ctx: LauncherContext, domainNames: readonly string[]) {
  return forEachVmiDomain(ctx, domainNames, "state not checked", async (key, domainName, vmi) => {
    const status = await ctx.readStatus(key);
    if (status?.phase !== Phase.PHASE_RUNNING) return;
    const domain = await ctx.libvirt().findDomain(domainName);
    if (domain && (await domain.isActive())) return;
    const reason = "its domain stopped while this host's launcher was away";
    await ctx.putStatus(key, {
      ...status,
      phase: Phase.PHASE_FAILED,
      reason,
      updatedUnixMs: ctx.now(),
    });
    ctx.log.warn({ vmi: `${vmi.namespace}/${vmi.name}`, domain: domainName }, reason);
  });
}
