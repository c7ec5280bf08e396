import { parseQuantity, toInteger } from "@headroom/quantity";
import type { Capacity } from "./result.ts";
import type { Vmi } from "./types.ts";

/** The resource name a VMI requests interface capacity with, under spec.domain.resources.requests. */
export const INTERFACE_RESOURCE = "kubevirt.io/interface";

export const MIN_INTERFACE_REQUEST = 0;
export const MAX_INTERFACE_REQUEST = 32;

/** KubeVirt's own wording (its admitter for this resource), so users of both see the same words. */
export const INTERFACE_REQUEST_MESSAGE = `provided resources interface requests must be an integer between ${MIN_INTERFACE_REQUEST} to ${MAX_INTERFACE_REQUEST}`;

/** The request as a number when it is an integer quantity from 0 to 32, otherwise null. */
export function interfaceRequestValue(value: unknown): number | null {
  const parsed = parseQuantity(value);
  if (!parsed.ok) return null;
  const whole = toInteger(parsed.value);
  if (whole === null) return null;
  if (whole < BigInt(MIN_INTERFACE_REQUEST) || whole > BigInt(MAX_INTERFACE_REQUEST)) return null;
  return Number(whole);
}

/**
 * Capacity of a valid VMI. A request below the number of interfaces has no
 * effect: the VMI always holds at least the interfaces it defines.
 */
export function interfaceCapacity(vmi: Vmi): Capacity {
  const raw = vmi.spec.domain.resources?.requests?.[INTERFACE_RESOURCE];
  const requested = raw === undefined ? null : interfaceRequestValue(raw);
  const interfaces = vmi.spec.domain.devices.interfaces.length;
  return { requested, interfaces, effective: Math.max(requested ?? 0, interfaces) };
}

/** The key a VMI is stored under: "<namespace>.<name>". Both parts are DNS labels, so "." cannot clash. */
export function vmiKey(vmi: { metadata: { namespace?: string; name: string } }): string {
  return `${vmi.metadata.namespace ?? "default"}.${vmi.metadata.name}`;
}
