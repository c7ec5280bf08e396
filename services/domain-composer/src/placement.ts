// Which host runs a VMI: a pure decision over the hosts' records and what is
// already placed on them, as Kubernetes' scheduler makes it (filter, then
// score). Filter: Ready, nodeSelector, required node affinity, the machine
// type, memory. Score: preferred node affinity first, then the host with the
// fewest VMIs placed, then the one with the most memory left.
import { type HostRecord, hostReadiness } from "@headroom/proto";
import type { NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm, Vmi } from "@headroom/vmi";

/** What a VMI asks of its host. */
export interface Demand {
  memoryBytes: number;
  /** The machine type the domain asks for ("q35", "pc", "pc-q35-8.2"). */
  machineType: string;
  nodeSelector: Record<string, string>;
  nodeAffinity: NodeAffinity | undefined;
}

/** What is placed on a host already. */
export interface Load {
  vmis: number;
  memoryBytes: number;
}

export type Choice = { node: string } | { pending: string };

export function demandOf(vmi: Vmi, memoryBytes: number, machineType: string): Demand {
  return {
    memoryBytes,
    machineType,
    nodeSelector: vmi.spec.nodeSelector ?? {},
    nodeAffinity: vmi.spec.affinity?.nodeAffinity,
  };
}

// The reasons a host cannot take a VMI, in the order they are checked.
const NOT_READY = "NotReady";
const SELECTOR = "do not match nodeSelector";
const AFFINITY = "do not match node affinity";
const MACHINE = "lack its machine type";
const MEMORY = "lack memory";

/** The host for `demand`, or why none can hold it: "0/3 hosts: 2 lack memory, 1 NotReady". */
export function chooseHost(
  demand: Demand,
  hosts: Iterable<HostRecord>,
  loads: ReadonlyMap<string, Load>,
  nowMs: number,
): Choice {
  const refusals = new Map<string, number>();
  let total = 0;
  let best: { node: string; score: number[] } | undefined;
  for (const host of hosts) {
    total++;
    const load = loads.get(host.node) ?? { vmis: 0, memoryBytes: 0 };
    const refusal = refusalOf(demand, host, load, nowMs);
    if (refusal) {
      refusals.set(refusal, (refusals.get(refusal) ?? 0) + 1);
      continue;
    }
    const score = [
      -preferredWeight(demand.nodeAffinity, host),
      load.vmis,
      -(Number(host.memoryBytes) - load.memoryBytes),
    ];
    if (!best || isBetter(score, host.node, best.score, best.node))
      best = { node: host.node, score };
  }
  if (best) return { node: best.node };
  if (total === 0) return { pending: "no host has joined: start a launcher (headroom up)" };
  const why = [...refusals].map(([reason, count]) => `${count} ${reason}`).join(", ");
  return { pending: `0/${total} hosts can run it: ${why}` };
}

function isBetter(score: number[], node: string, bestScore: number[], bestNode: string): boolean {
  for (let i = 0; i < score.length; i++) {
    if (score[i] !== bestScore[i]) return (score[i] as number) < (bestScore[i] as number);
  }
  return node < bestNode;
}

function refusalOf(demand: Demand, host: HostRecord, load: Load, nowMs: number): string | null {
  if (!hostReadiness(host, nowMs).ready) return NOT_READY;
  const labels = host.labels ?? {};
  for (const [key, value] of Object.entries(demand.nodeSelector)) {
    if (labels[key] !== value) return SELECTOR;
  }
  const required = demand.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && !required.nodeSelectorTerms.some((term) => termMatches(term, host)))
    return AFFINITY;
  if (!offersMachine(host.machineTypes ?? [], demand.machineType)) return MACHINE;
  const memory = Number(host.memoryBytes);
  if (memory > 0 && load.memoryBytes + demand.memoryBytes > memory) return MEMORY;
  return null;
}

/** Whether a host whose QEMU offers `offered` runs `wanted`; a host that listed none is not asked. */
function offersMachine(offered: readonly string[], wanted: string): boolean {
  return offered.length === 0 || wanted === "" || offered.includes(wanted);
}

function preferredWeight(affinity: NodeAffinity | undefined, host: HostRecord): number {
  let weight = 0;
  for (const preferred of affinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (termMatches(preferred.preference, host)) weight += preferred.weight;
  }
  return weight;
}

/** Every expression on the host's labels and every field (metadata.name) holds; an empty term matches nothing, as in Kubernetes. */
export function termMatches(term: NodeSelectorTerm, host: HostRecord): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  const labels = host.labels ?? {};
  return (
    expressions.every((requirement) => holds(requirement, labels[requirement.key])) &&
    fields.every(
      (requirement) =>
        requirement.key === "metadata.name" && holds(requirement, host.node || undefined),
    )
  );
}

function holds(requirement: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "Gt":
    case "Lt": {
      // Kubernetes compares whole numbers; a value that is none never matches.
      const have = Number(value);
      const limit = Number(values[0]);
      if (values.length !== 1 || !Number.isInteger(have) || !Number.isInteger(limit)) return false;
      return requirement.operator === "Gt" ? have > limit : have < limit;
    }
  }
}
