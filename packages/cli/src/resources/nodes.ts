// Hosts (nodes, as Kubernetes calls them): each launcher's record in the
// hosts bucket, read directly; a record not refreshed lately is NotReady.
import { BUCKETS, decode, subjectToken } from "@headroom/bus/client";
import { HostRecord, hostReadiness } from "@headroom/proto";
import type { HeadroomClient } from "../client.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import {
  formatAge,
  formatBytes,
  formatJson,
  formatObjects,
  formatTable,
  formatYaml,
  type OutputFormat,
} from "../output.ts";

/** A host as -o json|yaml prints it. */
export interface NodeView {
  name: string;
  status: "Ready" | "NotReady";
  reason: string;
  labels: Record<string, string>;
  vmsRunning: number;
  cpus: number;
  memoryBytes: number;
  memoryFreeBytes: number;
  virtType: string;
  arch: string;
  machineTypes: string[];
  libvirtVersion: string;
  qemuVersion: string;
  launcherVersion: string;
  heartbeatSeconds: number;
  lastHeartbeat: string;
  startedAt: string;
  images: { ref: string; digest: string; sizeBytes: number }[];
}

export function nodeView(record: HostRecord, nowMs: number): NodeView {
  const { ready, reason } = hostReadiness(record, nowMs);
  return {
    name: record.node,
    status: ready ? "Ready" : "NotReady",
    reason,
    labels: { ...record.labels },
    vmsRunning: record.vmsRunning,
    cpus: record.cpus,
    memoryBytes: Number(record.memoryBytes),
    memoryFreeBytes: Number(record.memoryFreeBytes),
    virtType: record.virtType,
    arch: record.arch,
    machineTypes: [...record.machineTypes],
    libvirtVersion: record.libvirtVersion,
    qemuVersion: record.qemuVersion,
    launcherVersion: record.launcherVersion,
    heartbeatSeconds: record.heartbeatMs / 1000,
    lastHeartbeat: new Date(Number(record.updatedUnixMs)).toISOString(),
    startedAt: new Date(Number(record.startedUnixMs)).toISOString(),
    images: record.images.map((image) => ({
      ref: image.ref ?? "",
      digest: image.digest ?? "",
      sizeBytes: Number(image.sizeBytes),
    })),
  };
}

/** Every host's record; one that does not decode is skipped, as it says nothing. */
export async function hostRecords(client: HeadroomClient): Promise<HostRecord[]> {
  const { Kvm } = await import("@nats-io/kv");
  const bucket = await new Kvm(client.nc).open(BUCKETS.hosts);
  const records: HostRecord[] = [];
  for await (const key of await bucket.keys()) {
    const entry = await bucket.get(key);
    if (entry?.operation !== "PUT") continue;
    try {
      records.push(decode(HostRecord, entry.value));
    } catch {
      // Written by something that is not a launcher of this version.
    }
  }
  return records.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}

async function hostRecord(client: HeadroomClient, name: string): Promise<HostRecord | undefined> {
  const { Kvm } = await import("@nats-io/kv");
  const bucket = await new Kvm(client.nc).open(BUCKETS.hosts);
  const entry = await bucket.get(subjectToken(name));
  return entry?.operation === "PUT" ? decode(HostRecord, entry.value) : undefined;
}

export interface GetNodesOptions {
  name?: string;
  selector?: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function getNodes(client: HeadroomClient, options: GetNodesOptions): Promise<number> {
  const now = (options.now ?? Date.now)();
  let nodes = (await hostRecords(client)).map((record) => nodeView(record, now));
  if (options.name !== undefined) {
    nodes = nodes.filter((node) => node.name === options.name);
    if (nodes.length === 0) throw new CliError(`node/${options.name} not found`, EXIT_INVALID);
  }
  if (options.selector !== undefined) {
    const { matchesLabels, parseLabelSelector } = await import("@headroom/labels");
    const parsed = parseLabelSelector(options.selector);
    if (!parsed.ok) throw new CliError(`-l: ${parsed.message}`, EXIT_USAGE);
    nodes = nodes.filter((node) => matchesLabels(node.labels, parsed.requirements));
  }
  if (options.output === "json" || options.output === "yaml") {
    options.write(formatObjects(options.output, nodes, options.name !== undefined));
    return EXIT_OK;
  }
  if (nodes.length === 0) {
    process.stderr.write("No nodes found: no launcher has registered its host.\n");
    return EXIT_OK;
  }
  const wide = options.output === "wide";
  const headers = ["NAME", "STATUS", "VMS", "CPUS", "MEMORY", "VIRT", "AGE"];
  if (wide) headers.push("LIBVIRT", "QEMU", "LAST-SEEN", "LABELS");
  const rows = nodes.map((node) => [
    node.name,
    node.status,
    String(node.vmsRunning),
    String(node.cpus),
    `${formatBytes(node.memoryFreeBytes)}/${formatBytes(node.memoryBytes)}`,
    virtWords(node.virtType),
    formatAge(now - Date.parse(node.startedAt)),
    ...(wide
      ? [
          node.libvirtVersion || "-",
          node.qemuVersion || "-",
          `${formatAge(now - Date.parse(node.lastHeartbeat))} ago`,
          labelsText(node.labels, ",") || "<none>",
        ]
      : []),
  ]);
  options.write(formatTable(headers, rows));
  return EXIT_OK;
}

export interface DescribeNodeOptions {
  name: string;
  output: "table" | "json" | "yaml";
  write: (text: string) => void;
  now?: () => number;
}

export async function describeNode(
  client: HeadroomClient,
  options: DescribeNodeOptions,
): Promise<number> {
  const now = (options.now ?? Date.now)();
  const record = await hostRecord(client, options.name);
  if (!record) throw new CliError(`node/${options.name} not found`, EXIT_INVALID);
  const node = nodeView(record, now);
  if (options.output === "json") options.write(formatJson(node));
  else if (options.output === "yaml") options.write(formatYaml(node));
  else options.write(nodeDescription(node, now));
  return EXIT_OK;
}

/** `describe node` as text, kubectl-style: a field a line, lists indented under their label. */
export function nodeDescription(node: NodeView, nowMs: number): string {
  const pad = (label: string) => `${label}:`.padEnd(17);
  const list = (label: string, items: string[]) =>
    items.length === 0
      ? `${pad(label)}<none>`
      : items.map((item, i) => `${i === 0 ? pad(label) : " ".repeat(17)}${item}`).join("\n");
  const lines = [
    `${pad("Name")}${node.name}`,
    `${pad("Status")}${node.status}${node.reason ? ` (${node.reason})` : ""}`,
    list("Labels", labelsText(node.labels, "\n").split("\n").filter(Boolean)),
    `${pad("Last heartbeat")}${formatAge(nowMs - Date.parse(node.lastHeartbeat))} ago (every ${node.heartbeatSeconds} s)`,
    `${pad("Launcher")}${node.launcherVersion || "-"}, started ${formatAge(nowMs - Date.parse(node.startedAt))} ago`,
    `${pad("Virt type")}${virtWords(node.virtType)}`,
    `${pad("Arch")}${node.arch || "-"}`,
    `${pad("CPUs")}${node.cpus}`,
    `${pad("Memory")}${formatBytes(node.memoryBytes)}, ${formatBytes(node.memoryFreeBytes)} free`,
    `${pad("VMs running")}${node.vmsRunning}`,
    `${pad("libvirt")}${node.libvirtVersion || "-"}`,
    `${pad("QEMU")}${node.qemuVersion || "-"}`,
    list("Machine types", wrap(node.machineTypes, 60)),
    list(
      "Images",
      node.images.map((image) => `${image.ref} (${formatBytes(image.sizeBytes)})`),
    ),
  ];
  return `${lines.join("\n")}\n`;
}

function virtWords(virtType: string): string {
  if (virtType === "qemu") return "TCG";
  if (virtType === "kvm") return "KVM";
  return virtType || "-";
}

function labelsText(labels: Record<string, string>, separator: string): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(separator);
}

/** Items joined by ", " into lines of about `width` characters. */
function wrap(items: string[], width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    if (line && line.length + item.length + 2 > width) {
      lines.push(`${line},`);
      line = item;
    } else line = line ? `${line}, ${item}` : item;
  }
  if (line) lines.push(line);
  return lines;
}
