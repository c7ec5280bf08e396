/**
 * The edits behind `headroom addinterface` / `removeinterface`: the stored VMI
 * with one interface (and its network) added or removed. The result still has
 * to pass validateUpdate, like any other change.
 */
import type { Vmi } from "./types.ts";

export interface InterfaceToAdd {
  /** The interface and network name. */
  name: string;
  /** A network attachment (multus, bridge binding); "pod" for the pod network (masquerade). */
  networkName: string;
  macAddress?: string;
}

/** A copy of `vmi` with the interface appended; the input is not changed. */
export function withInterfaceAdded(vmi: Vmi, add: InterfaceToAdd): Vmi {
  const copy = structuredClone(vmi);
  const pod = add.networkName === "pod";
  copy.spec.domain.devices.interfaces.push({
    name: add.name,
    model: "virtio",
    ...(add.macAddress ? { macAddress: add.macAddress } : {}),
    ...(pod ? { masquerade: {} } : { bridge: {} }),
  });
  copy.spec.networks.push(
    pod
      ? { name: add.name, pod: {} }
      : { name: add.name, multus: { networkName: add.networkName } },
  );
  return copy;
}

/** A copy of `vmi` without the interface and its network; undefined when it has no such interface. */
export function withInterfaceRemoved(vmi: Vmi, name: string): Vmi | undefined {
  if (!vmi.spec.domain.devices.interfaces.some((iface) => iface.name === name)) return undefined;
  const copy = structuredClone(vmi);
  copy.spec.domain.devices.interfaces = copy.spec.domain.devices.interfaces.filter(
    (i) => i.name !== name,
  );
  copy.spec.networks = copy.spec.networks.filter((n) => n.name !== name);
  return copy;
}
