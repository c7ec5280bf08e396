// NICs a guest kept after an unplug (its VMI no longer lists them; the status
// shows them Detaching) are asked for again, later and later, until the guest
// lets go; each one it releases is reported as the unplug would have been.

import { parseStoreKey } from "@headroom/bus";
import { inspectRunning, isHeadroomDomain } from "@headroom/domain-manager";
import { InterfaceState, Phase } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";
import { detachUnwanted, type InterfaceChange, vmiNicNames } from "./interfaces.ts";
import { reportNicChanges } from "./nic_changes.ts";
import { RetryTimers } from "./retry_timers.ts";

const UNPLUG_RETRY_MAX_MS = 15 * 60_000;

export class UnplugRetries {
  readonly #timers: RetryTimers;
  readonly #ctx: LauncherContext;

  constructor(ctx: LauncherContext, firstDelayMs = 60_000) {
    this.#ctx = ctx;
    this.#timers = new RetryTimers(firstDelayMs, UNPLUG_RETRY_MAX_MS);
  }

  /** When the next look would come after `attempt` looks. */
  delayOf(attempt: number): number {
    return this.#timers.delayOf(attempt);
  }

  /** Looks at the VMI's domain later (again and again while the guest keeps a NIC). */
  schedule(key: string): void {
    const ctx = this.#ctx;
    this.#timers.schedule(
      key,
      (attempt) => ctx.queue.run(key, () => this.#retry(key, attempt)),
      (error) => ctx.log.warn({ key, err: error }, "unplug retry failed; trying again later"),
    );
  }

  stop(): void {
    this.#timers.stop();
  }

  /** True when the domain holds no NIC its VMI dropped any more. */
  async #retry(key: string, attempt: number): Promise<boolean> {
    const ctx = this.#ctx;
    const skip = (why: string) => {
      ctx.log.debug({ key, why }, "no unplug to retry");
      return true;
    };
    const stored = await ctx.readStored(key);
    const status = await ctx.readStatus(key);
    if (!stored || status?.phase !== Phase.PHASE_RUNNING || status.uid !== stored.uid)
      return skip("not a running VMI");
    // A newer generation is on its way: its plan brings the NICs in line.
    if (Number(status.observedGeneration) !== Number(stored.generation))
      return skip(`generation ${stored.generation} is on its way`);
    const detaching = (status.interfaces ?? [])
      .filter((i) => i.state === InterfaceState.INTERFACE_STATE_DETACHING)
      .map((i) => i.name ?? "");
    if (detaching.length === 0) return skip("no interface waits for the guest");
    const domain = await ctx.libvirt().findDomain(status.domainName ?? "");
    if (!domain || !(await domain.isActive())) return skip("domain not running");
    if (!(await isHeadroomDomain(domain))) return skip("domain not defined by headroom");

    const liveXml = await domain.getXmlDesc();
    const present = vmiNicNames(liveXml);
    const wanted = present.filter((name) => !detaching.includes(name));
    // Released since the last look: the guest acknowledged an earlier unplug late.
    const releasedLate: InterfaceChange[] = [];
    for (const name of detaching.filter((n) => !present.includes(n))) {
      const view = await inspectRunning(domain);
      releasedLate.push({ kind: "detached", name, view, note: ": the guest released it late" });
    }
    const retried = await detachUnwanted(
      ctx.libvirt(),
      domain,
      wanted,
      liveXml,
      ctx.detachTimeoutMs,
    );
    const changes = [
      ...releasedLate,
      ...retried.map((c) => (c.kind === "detached" ? { ...c, note: " on retry" } : c)),
    ];
    const { namespace, name } = parseStoreKey(key);
    const generation = Number(stored.generation);
    const log = ctx.log.child({
      vmi: `${namespace}/${name}`,
      uid: stored.uid,
      generation,
      attempt: attempt + 1,
    });
    const reported = await reportNicChanges(
      ctx,
      { namespace, name, uid: stored.uid },
      {
        uid: stored.uid,
        generation,
        domainName: status.domainName ?? "",
        capacity: status.capacity,
      },
      domain,
      changes,
      status.capacity?.controllersAdded ?? 0,
      log,
    );
    await ctx.putStatus(key, reported.status);
    if (reported.kept.length > 0) {
      log.warn(
        { kept: reported.kept, retryInMs: this.delayOf(attempt + 1) },
        "the guest still holds interfaces its VMI dropped; asking again later",
      );
    }
    return reported.kept.length === 0;
  }
}
