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
  describe: "headroom.api.v1.vmi.describe",
  /** A VMI's serial console log, read in chunks (long poll), served by the launcher. */
  consoleLog: "headroom.api.v1.vmi.logs",
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
} as const;

/** Subject filters of the pipeline stages (one durable consumer each). */
export const PIPELINE_FILTERS = {
  all: "headroom.pipeline.>",
  accepted: "headroom.pipeline.accepted.>",
  deleted: "headroom.pipeline.deleted.>",
  plan: "headroom.pipeline.plan.>",
  /** addinterface requests the validator refused for lack of room (InterfaceRefused). */
  refused: "headroom.pipeline.refused.>",
} as const;

export const CAPACITY_FILTER = "headroom.capacity.>";

/** Durable consumer names, one per (service, stage); replicas share the durable. */
export const DURABLES = {
  composerAccepted: "headroom-composer-accepted",
  launcherPlan: "headroom-launcher-plan",
  launcherDeleted: "headroom-launcher-deleted",
  launcherRefused: "headroom-launcher-refused",
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

export function planSubject(namespace: string, name: string): string {
  return `headroom.pipeline.plan.${storeKey(namespace, name)}`;
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
