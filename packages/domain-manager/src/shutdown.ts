// A guest asked to shut down as KubeVirt asks it when a VMI is deleted: its
// ACPI power button is pressed, and pressed again every few seconds (a guest
// still booting misses a press), until it powers off or the grace period ends.
import { setTimeout as sleep } from "node:timers/promises";
import { type Domain, isLibvirtError } from "@headroom/libvirt";

export interface ShutdownOptions {
  /** How long the guest gets, in ms. */
  graceMs: number;
  /** Between presses of the power button (default 3 s). */
  pressEveryMs?: number;
  /** Between looks at whether the domain still runs (default 200 ms). */
  pollMs?: number;
}

export interface ShutdownOutcome {
  /** The guest powered off by itself within the grace period. */
  stopped: boolean;
  /** How long it took, or the grace period when it did not stop. */
  elapsedMs: number;
  /** Presses of the power button. */
  presses: number;
}

/** Presses the power button until the domain stops or `graceMs` is over; destroys nothing. */
export async function shutDownGuest(
  domain: Domain,
  { graceMs, pressEveryMs = 3_000, pollMs = 200 }: ShutdownOptions,
): Promise<ShutdownOutcome> {
  const started = Date.now();
  let presses = 0;
  let pressedAt = Number.NEGATIVE_INFINITY;
  for (;;) {
    const elapsedMs = Date.now() - started;
    if (!(await stillRunning(domain))) return { stopped: true, elapsedMs, presses };
    if (elapsedMs >= graceMs) return { stopped: false, elapsedMs, presses };
    if (Date.now() - pressedAt >= pressEveryMs) {
      pressedAt = Date.now();
      presses++;
      try {
        await domain.shutdown();
      } catch (error) {
        // It stopped between the look and the press, or is going down already.
        if (!isLibvirtError(error)) throw error;
      }
    }
    await sleep(Math.min(pollMs, Math.max(0, graceMs - elapsedMs)));
  }
}

async function stillRunning(domain: Domain): Promise<boolean> {
  try {
    return await domain.isActive();
  } catch (error) {
    if (isLibvirtError(error)) return false;
    throw error;
  }
}
