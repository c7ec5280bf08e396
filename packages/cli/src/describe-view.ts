// `headroom describe vmi`: what is known of one VMI, gathered into one object
// (printed as JSON/YAML) and as kubectl-describe text.
import type { ICapacityEvent, IVmiRecord, IVmiStatus } from "@headroom/proto";
import {
  DESCRIBE_EVENT_COLUMNS,
  describeEventRow,
  type EventObject,
  eventObject,
} from "./event-view.ts";
import { formatTable } from "./output.ts";
import { type PortView, statusView } from "./vmi-view.ts";

/** Where the capacity figures come from. */
export type CapacitySource =
  /** The launcher read them from the running domain just now. */
  | { live: IVmiStatus }
  /** The launcher could not (no running domain, or no launcher answering): the stored status, and why. */
  | { note: string };

export interface VmiDescription {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  node: string;
  phase: string;
  reason: string;
  machineType: string;
  capacity: {
    /** "live": read from the running domain; "stored": the launcher's last status report. */
    source: "live" | "stored";
    /** Why the stored status is shown (empty when live). */
    note: string;
    requested: number | null;
    effective: number;
    inUse: number;
    free: number;
    controllersAdded: number;
  };
  interfaces: {
    name: string;
    /** "pod", a network attachment, or "<none>" for a NIC the manifest no longer has. */
    network: string;
    mac: string;
    pciAddress: string;
    state: string;
    /** The guest's address on the pod network; "<none>" before its lease or without a live view. */
    ipAddress: string;
    ports: PortView[];
  }[];
  /** The last capacity events of this VMI, oldest first. */
  events: EventObject[];
}

interface ManifestInterface {
  name?: string;
  macAddress?: string;
}
interface ManifestNetwork {
  name?: string;
  pod?: unknown;
  multus?: { networkName?: string };
}
interface Manifest {
  spec?: {
    domain?: { machine?: { type?: string }; devices?: { interfaces?: ManifestInterface[] } };
    networks?: ManifestNetwork[];
  };
}

function networkOf(network: ManifestNetwork | undefined): string {
  if (!network) return "<none>";
  if (network.pod !== undefined) return "pod";
  return network.multus?.networkName || "<none>";
}

export function vmiDescription(
  record: IVmiRecord,
  source: CapacitySource,
  events: readonly ICapacityEvent[],
): VmiDescription {
  const manifest = JSON.parse(record.manifestJson || "{}") as Manifest;
  const stored = statusView(record);
  const live = "live" in source ? statusView({ ...record, status: source.live }) : undefined;
  const view = live ?? stored;

  // The manifest's interfaces in its order, with what the domain has of each;
  // then NICs the domain still holds that the manifest dropped (a refused unplug).
  const declared = manifest.spec?.domain?.devices?.interfaces ?? [];
  const networks = manifest.spec?.networks ?? [];
  const seen = new Map(view.interfaces.map((iface) => [iface.name, iface]));
  const storedStates = new Map(stored.interfaces.map((iface) => [iface.name, iface.state]));
  const interfaces = declared.map((iface) => {
    const name = iface.name ?? "";
    const found = seen.get(name);
    return {
      name,
      network: networkOf(networks.find((network) => network.name === name)),
      mac: found?.mac || iface.macAddress || "<none>",
      pciAddress: found?.pciAddress || "<none>",
      state: found?.state ?? storedStates.get(name) ?? "Pending",
      ipAddress: found?.ipAddress || "<none>",
      ports: found?.ports ?? [],
    };
  });
  const names = new Set(interfaces.map((iface) => iface.name));
  for (const extra of view.interfaces) {
    if (names.has(extra.name)) continue;
    interfaces.push({
      name: extra.name,
      network: "<none>",
      mac: extra.mac || "<none>",
      pciAddress: extra.pciAddress || "<none>",
      state: extra.state,
      ipAddress: extra.ipAddress || "<none>",
      ports: extra.ports ?? [],
    });
  }

  const { capacity } = view;
  return {
    name: record.name ?? "",
    namespace: record.namespace ?? "",
    uid: record.uid ?? "",
    generation: Number(record.generation ?? 0),
    node: stored.node || live?.node || "",
    // A status report says more than the live view (which is always Running).
    phase: stored.phase === "Pending" && live ? live.phase : stored.phase,
    reason: stored.reason,
    machineType: manifest.spec?.domain?.machine?.type ?? "",
    capacity: {
      source: live ? "live" : "stored",
      note: "note" in source ? source.note : "",
      requested: capacity.requested,
      effective: capacity.effective,
      inUse: capacity.inUse,
      free: capacity.free,
      controllersAdded: capacity.controllersAdded,
    },
    interfaces,
    events: events.map(eventObject),
  };
}

/** kubectl describe's layout: labels in one column, sections indented by two. */
export function formatDescription(description: VmiDescription, nowMs: number): string {
  const d = description;
  const field = (label: string, value: string) => `${`${label}:`.padEnd(15)}${value}`.trimEnd();
  const sub = (label: string, value: string) => `  ${`${label}:`.padEnd(20)}${value}`;
  const indent = (table: string) =>
    table
      .trimEnd()
      .split("\n")
      .map((line) => `  ${line}`);
  const c = d.capacity;
  const lines = [
    field("Name", d.name),
    field("Namespace", d.namespace),
    field("UID", d.uid),
    field("Generation", String(d.generation)),
    field("Node", d.node || "<none>"),
    field("Phase", d.phase),
    ...(d.reason ? [field("Reason", d.reason.replace(/\s*[\r\n]+\s*/g, " "))] : []),
    field("Machine type", d.machineType || "<none>"),
    field(
      "Capacity",
      c.source === "live" ? "(live)" : `(stored status: ${c.note || "no live view"})`,
    ),
    sub("Requested", c.requested === null ? "<none>" : String(c.requested)),
    sub("Effective", String(c.effective)),
    sub("In use", String(c.inUse)),
    sub("Free", String(c.free)),
    sub("Controllers added", String(c.controllersAdded)),
  ];
  if (d.interfaces.length === 0) lines.push(field("Interfaces", "<none>"));
  else {
    lines.push("Interfaces:");
    lines.push(
      ...indent(
        formatTable(
          ["NAME", "NETWORK", "MAC", "IP", "PCI ADDRESS", "STATE"],
          d.interfaces.map((i) => [i.name, i.network, i.mac, i.ipAddress, i.pciAddress, i.state]),
        ),
      ),
    );
  }
  const ports = d.interfaces.flatMap((i) =>
    i.ports.map((port) => ({ ...port, interface: i.name })),
  );
  if (ports.length > 0) {
    lines.push("Ports:");
    lines.push(
      ...indent(
        formatTable(
          ["INTERFACE", "NAME", "PORT", "HOST"],
          ports.map((p) => [
            p.interface,
            p.name || "<none>",
            `${p.port}/${p.protocol}`,
            `${p.hostAddress}:${p.hostPort}`,
          ]),
        ),
      ),
    );
  }
  if (d.events.length === 0) lines.push(field("Events", "<none>"));
  else {
    lines.push("Events:");
    lines.push(
      ...indent(
        formatTable(
          DESCRIBE_EVENT_COLUMNS,
          d.events.map((event) => describeEventRow(event, nowMs)),
        ),
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}
