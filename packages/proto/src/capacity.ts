// Capacity in words, the same wherever headroom says it (the validator's
// refusal, the launcher's exhausted event).
import type { headroom } from "../gen/headroom.js";

type ICapacityStatus = headroom.v1.CapacityStatus.$Properties;

/** headroom's own words when a VMI has no room left for `iface`. */
export function exhaustedMessage(
  vmi: { namespace: string; name: string },
  capacity: ICapacityStatus | null | undefined,
  iface: string,
): string {
  const c = capacity ?? {};
  const asked = c.requested != null ? `asked for ${c.requested}` : "reserved no extra room";
  return (
    `vmi ${vmi.namespace}/${vmi.name} has no free slot for interface ${iface}: ` +
    `it ${asked} (effective ${c.effective ?? 0}), ${c.inUse ?? 0} in use, 0 free`
  );
}
