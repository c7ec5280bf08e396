// Every subject, stream, bucket and service name headroom uses, in one place.
// User values (namespaces, names) enter subjects and keys only through
// subjectToken(), so no value can add a token or a wildcard.

/** Request/reply API subjects (client → service). */
export const API_SUBJECTS = {
  apply: "headroom.api.v1.vmi.apply",
  delete: "headroom.api.v1.vmi.delete",
  get: "headroom.api.v1.vmi.get",
  list: "headroom.api.v1.vmi.list",
  addInterface: "headroom.api.v1.vmi.addinterface",
  removeInterface: "headroom.api.v1.vmi.removeinterface",
  /** Network attachments (multus networkName → host bridge), served by the composer. */
  createNetwork: "headroom.api.v1.network.create",
  deleteNetwork: "headroom.api.v1.network.delete",
  listNetworks: "headroom.api.v1.network.list",
  /** Removes an image from the image store, served by the validator (it knows which VMIs use it). */
  deleteImage: "headroom.api.v1.image.delete",
  /** Removes what no VMI uses from a host's image store, served by the launcher (it owns the store). */
  pruneImages: "headroom.api.v1.image.prune",
  /** Volumes (named disks that outlive VMIs), served by the launcher (it owns the host's files). */
  createVolume: "headroom.api.v1.volume.create",
  deleteVolume: "headroom.api.v1.volume.delete",
  listVolumes: "headroom.api.v1.volume.list",
} as const;

/**
 * API a VMI's own host answers: headroom.api.v1.node.<node>.vmi.<endpoint>,
 * describe (the running domain) and logs (its serial console, read in chunks,
 * long poll). Clients read the VMI's node (get vmi) first; only the launcher
 * of that host subscribes.
 */
export const HOST_API = {
  describe: "vmi.describe",
  consoleLog: "vmi.logs",
} as const;

export function hostApiSubject(node: string, endpoint: (typeof HOST_API)[keyof typeof HOST_API]) {
  return `headroom.api.v1.node.${subjectToken(node)}.${endpoint}`;
}

/** NATS micro service names ($SRV.PING/INFO/STATS.<name>). */
export const SERVICE_NAMES = {
  validator: "headroom-validator",
  composer: "headroom-composer",
  launcher: "headroom-launcher",
} as const;

/** Queue group of every API endpoint: replicas of a service share requests. */
export const QUEUE_GROUP = "headroom";

/** JetStream streams. */
export const STREAMS = {
  /** Hand-offs between services (work queue: a message is removed once acked). */
  pipeline: "HEADROOM_PIPELINE",
  /** Capacity events, kept for replay. */
  capacity: "HEADROOM_CAPACITY",
  /**
   * Work addressed to one host (headroom.host.<node>.>): plans, releases and
   * refusals the composer routed to the host a VMI is placed on (work queue).
   * A stream of its own, so launchers may consume it and nothing else.
   */
  hostWork: "HEADROOM_HOST_WORK",
} as const;

/** Subject filters of the pipeline stages (one durable consumer each). */
export const PIPELINE_FILTERS = {
  all: "headroom.pipeline.>",
  accepted: "headroom.pipeline.accepted.>",
  deleted: "headroom.pipeline.deleted.>",
  /** addinterface requests the validator refused for lack of room (InterfaceRefused). */
  refused: "headroom.pipeline.refused.>",
} as const;

/** Every subject of HEADROOM_HOST_WORK. */
export const HOST_WORK_FILTER = "headroom.host.>";

/** What the composer hands a host: a plan to carry out, a VMI to release, a refusal to record. */
export type HostWorkKind = "plan" | "release" | "refused";

/** headroom.host.<node>.<kind>.<ns>.<name>: read by that host's launcher alone. */
export function hostWorkSubject(
  node: string,
  kind: HostWorkKind,
  namespace: string,
  name: string,
): string {
  return `headroom.host.${subjectToken(node)}.${kind}.${storeKey(namespace, name)}`;
}

/** The kind of a host work subject (its fourth token). */
export function hostWorkKind(subject: string): string {
  return subject.split(".")[3] ?? "";
}

/** The filter of one host's work. */
export function hostWorkFilter(node: string): string {
  return `headroom.host.${subjectToken(node)}.>`;
}

/** The durable consumer of one host's work, shared by nothing else. */
export function hostWorkDurable(node: string): string {
  return `headroom-host-${subjectToken(node)}`;
}

export const CAPACITY_FILTER = "headroom.capacity.>";

/** Durable consumer names, one per (service, stage); replicas share the durable. */
export const DURABLES = {
  composerAccepted: "headroom-composer-accepted",
  composerDeleted: "headroom-composer-deleted",
  composerRefused: "headroom-composer-refused",
} as const;

/** KV buckets; keys are storeKey(namespace, name). */
export const BUCKETS = {
  /** The accepted VMI (VmiAccepted). */
  vmis: "headroom-vmis",
  /** The latest VmiStatus, written by the launcher. */
  status: "headroom-status",
  /** Network attachments (multus networkName → host bridge), written by the composer. */
  networks: "headroom-networks",
  /** What each host holds (HostRecord), key subjectToken(node); written by that host's launcher. */
  hosts: "headroom-hosts",
  /** Where each VMI runs (Placement), written by the composer. */
  placements: "headroom-placements",
} as const;

/**
 * JetStream object stores. Images: one object per image reference, a tar of
 * the image's tree; written by clients (headroom image add), deleted by the
 * validator, read by every launcher.
 */
export const OBJECT_STORES = {
  images: "headroom-images",
} as const;

/** Largest request an API endpoint accepts, bytes. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export function acceptedSubject(namespace: string, name: string): string {
  return `headroom.pipeline.accepted.${storeKey(namespace, name)}`;
}

export function deletedSubject(namespace: string, name: string): string {
  return `headroom.pipeline.deleted.${storeKey(namespace, name)}`;
}

export function refusedSubject(namespace: string, name: string): string {
  return `headroom.pipeline.refused.${storeKey(namespace, name)}`;
}

export function capacitySubject(namespace: string, name: string): string {
  return `headroom.capacity.${storeKey(namespace, name)}`;
}

/** JetStream message id of one generation of a VMI (VmiAccepted, DomainPlan): deduplicates retries. */
export function generationMsgId(uid: string, generation: number): string {
  return `${uid}:${generation}`;
}

/** JetStream message id of a VMI's deletion. */
export function deletedMsgId(uid: string): string {
  return `${uid}:deleted`;
}

/** KV key (and the last two subject tokens) of a VMI: "<ns>.<name>", each part a subjectToken. */
export function storeKey(namespace: string, name: string): string {
  return `${subjectToken(namespace)}.${subjectToken(name)}`;
}

/** Inverse of storeKey (also takes a full subject and uses its last two tokens). */
export function parseStoreKey(key: string): { namespace: string; name: string } {
  const tokens = key.split(".");
  if (tokens.length < 2) throw new Error(`"${key}" is not a <namespace>.<name> key`);
  return {
    namespace: fromSubjectToken(tokens[tokens.length - 2] as string),
    name: fromSubjectToken(tokens[tokens.length - 1] as string),
  };
}

// Letters, digits, "-" and "_" stand for themselves (so DNS labels are
// unchanged); every other UTF-8 byte becomes "=XX". A lone "=" is the empty
// string. The result is a valid subject token and KV key part: no ".", "*",
// ">", whitespace or control characters.
const PLAIN = /^[A-Za-z0-9_-]$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes any string into one NATS subject token, reversibly. */
export function subjectToken(value: string): string {
  if (value === "") return "=";
  let out = "";
  for (const char of value) {
    if (PLAIN.test(char)) {
      out += char;
      continue;
    }
    for (const byte of encoder.encode(char)) {
      out += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

/** Decodes a token made by subjectToken; throws on anything else. */
export function fromSubjectToken(token: string): string {
  if (token === "=") return "";
  if (!/^(?:[A-Za-z0-9_-]|=[0-9A-F]{2})+$/.test(token)) {
    throw new Error(`"${token}" is not an encoded subject token`);
  }
  const bytes: number[] = [];
  for (let i = 0; i < token.length; ) {
    if (token[i] === "=") {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      bytes.push(token.charCodeAt(i));
      i += 1;
    }
  }
  return decoder.decode(Uint8Array.from(bytes));
}

/**
 * JetStream message id of the DomainPlan of one generation: "<uid>:<generation>:plan".
 * Plans share HEADROOM_PIPELINE (and its duplicate window) with the VmiAccepted they
 * come from, whose id is generationMsgId(uid, generation); with the same id the
 * stream would drop every plan as a duplicate of its own VmiAccepted.
 */
export function planMsgId(uid: string, generation: number): string {
  return `${generationMsgId(uid, generation)}:plan`;
}
