// What every part of the launcher shares: its connections, its settings, and
// the few reads and writes of state that all of them make.
import { hostname } from "node:os";
import {
  type Buckets,
  DecodeError,
  decode,
  encode,
  IMAGE_STORE_MAX_BYTES,
  type JetStreamClient,
  KeyedQueue,
  type KV,
  type Logger,
  type NatsConnection,
  type ObjectStore,
  readEntry,
  retryCompareAndSet,
  retryTransient,
  toJetStream,
} from "@headroom/bus";
import { leasedAddress } from "@headroom/domain-manager";
import {
  DEFAULT_POD_SUBNET,
  nicAlias,
  type PodSubnet,
  parsePodSubnet,
  type VirtType,
} from "@headroom/domain-xml";
import { type HostState, hostState } from "@headroom/host-state";
import { type ImageStore, openImageStore } from "@headroom/images";
import type { Connection } from "@headroom/libvirt";
import { DEFAULT_LOST_AFTER_MS, type IVmiStatus, VmiAccepted, VmiStatus } from "@headroom/proto";
import { DEFAULT_HEARTBEAT_MS, HostRecorder } from "./host_record.ts";
import { type ImageHolder, imageHolder } from "./images.ts";
import { PortForwards } from "./port_forwards.ts";
import type { LibvirtLink } from "./reconnect.ts";
import { SharedLock } from "./shared_lock.ts";
import { mayReplaceStatus } from "./status.ts";

/** Forwarded ports are reached from this host only, unless the administrator says otherwise. */
export const DEFAULT_PORT_ADDRESS = "127.0.0.1";

export interface LauncherOptions {
  log: Logger;
  /** The hypervisor domains run on: "kvm" when it really runs guests, else "qemu". */
  virtType: VirtType;
  /** This host's name (status.node, its record in the hosts bucket); default the host name. */
  node?: string;
  /** This host's labels, beside the defaults (kubernetes.io/hostname, os, arch). */
  labels?: Record<string, string>;
  /** How often the host's record is refreshed (default 10 s). */
  heartbeatMs?: number;
  /** How long the host may stay NotReady before its VMIs are Failed, NodeLost (default 5 min). */
  lostAfterMs?: number;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** How long a guest gets to release an unplugged NIC (default 30 s). */
  detachTimeoutMs?: number;
  /**
   * A NIC the guest did not release is asked for again after this long,
   * doubling up to 15 min, until the guest lets it go (default 60 s).
   */
  unplugRetryMs?: number;
  /** Plans of different VMIs carried out at once (default: 4 per CPU, at least 4). */
  concurrency?: number;
  /**
   * Define each domain with its room and never start it; its status stays
   * Scheduled. For measuring the control plane without guests competing for
   * the CPU (the benchmarks); later generations' NIC changes are not applied.
   */
  defineOnly?: boolean;
  /** Largest image this host fetches from the image store (default: the store's own bound). */
  maxImageBytes?: number;
  /** The pod network's IPv4 subnet, made when a pod NIC first needs it (default 10.0.2.0/24). */
  podSubnet?: string;
  /** Registries (host[:port]) besides loopback ones that images may be pulled from over plain HTTP. */
  insecureRegistries?: string[];
  /** Directories whose files hostDisk volumes may use (none by default). */
  hostDiskDirs?: string[];
  /** The host address forwarded guest ports listen on (default 127.0.0.1). */
  portAddress?: string;
  version?: string;
}

export interface LauncherContext {
  log: Logger;
  virtType: VirtType;
  node: string;
  now: () => number;
  detachTimeoutMs: number;
  defineOnly: boolean;
  /** Directories whose files hostDisk volumes may use; none allows no host disk. */
  hostDiskDirs: readonly string[];
  state: HostState;
  /** This host's image store, where plans' images are held. */
  imageStore: ImageStore;
  podSubnet: PodSubnet;
  /** This host's record in the hosts bucket: its facts, readiness and images. */
  host: HostRecorder;
  /** Fetches what this host lacks from headroom's image store; records what it holds. */
  images: ImageHolder;
  /** Plans hold it shared while they use the image store; an image prune alone. */
  imageLock: SharedLock;
  /** The host ports that lead to guests' ports (interfaces[].ports). */
  ports: PortForwards;
  js: JetStreamClient;
  buckets: Buckets;
  /** One task at a time per VMI (key), VMIs in parallel. */
  queue: KeyedQueue;
  /** The libvirt connection now: a reconnect replaces it. */
  libvirt(): Connection;
  /** Whether libvirtd went away (a call can fail before the close callback ran). */
  libvirtLost(): Promise<boolean>;
  readStatus(key: string): Promise<IVmiStatus | null>;
  putStatus(key: string, status: IVmiStatus): Promise<unknown>;
  /**
   * Writes `status` unless the stored one is further along (mayReplaceStatus),
   * by compare-and-set; true when it was written.
   */
  advanceStatus(key: string, status: IVmiStatus): Promise<boolean>;
  /** The VMI as stored now (its record, never its manifest), or null once it is deleted. */
  readStored(key: string): Promise<VmiAccepted | null>;
}

export function launcherContext(
  nc: NatsConnection,
  conn: Connection | LibvirtLink,
  buckets: Buckets,
  imageObjects: ObjectStore,
  options: LauncherOptions,
): LauncherContext {
  const libvirt = (): Connection => ("current" in conn ? conn.current() : conn);
  const node = options.node ?? hostname();
  const now = options.now ?? Date.now;
  const state = hostState(options.env);
  const imageStore = openImageStore(state.images);
  const maxImageBytes = options.maxImageBytes ?? IMAGE_STORE_MAX_BYTES;
  const host = new HostRecorder({
    node,
    bucket: buckets.hosts,
    libvirt,
    log: options.log,
    now,
    virtType: options.virtType,
    labels: options.labels ?? {},
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    lostAfterMs: options.lostAfterMs ?? DEFAULT_LOST_AFTER_MS,
    version: options.version ?? "0.1.0",
  });
  return {
    log: options.log,
    virtType: options.virtType,
    node,
    now,
    detachTimeoutMs: options.detachTimeoutMs ?? 30_000,
    defineOnly: options.defineOnly ?? false,
    hostDiskDirs: options.hostDiskDirs ?? [],
    state,
    imageStore,
    podSubnet: parsePodSubnet(options.podSubnet ?? DEFAULT_POD_SUBNET),
    host,
    images: imageHolder(
      { node, now, host },
      imageStore,
      {
        objects: imageObjects,
        insecureRegistries: options.insecureRegistries ?? [],
        secretsDir: state.secrets,
      },
      maxImageBytes,
      options.log,
    ),
    imageLock: new SharedLock(),
    ports: new PortForwards(
      options.portAddress ?? DEFAULT_PORT_ADDRESS,
      async (domainName, interfaceName) => {
        const domain = await libvirt().findDomain(domainName);
        if (!domain || !(await domain.isActive())) return undefined;
        return leasedAddress(domain, nicAlias(interfaceName));
      },
      options.log,
    ),
    js: toJetStream(nc),
    buckets,
    queue: new KeyedQueue(),
    libvirt,
    libvirtLost: async () => {
      try {
        return !(await libvirt().isAlive());
      } catch {
        return true;
      }
    },
    // A status that does not decode is replaced by the next one written; it
    // must not make a valid plan look like garbage (DecodeError is final).
    readStatus: async (key) => {
      try {
        return (await readEntry(buckets.status, key, VmiStatus))?.value ?? null;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        options.log.warn({ key, err: error }, "unreadable status ignored");
        return null;
      }
    },
    // A put is safe to repeat; one whose answer an election lost is
    // repeated here rather than failing the whole plan.
    putStatus: (key, status) =>
      retryTransient(() => buckets.status.put(key, encode(VmiStatus, status))),
    advanceStatus: (key, status) => advanceStatus(buckets.status, key, status, options.log),
    // The stored VMI decides whether a plan is current: unreadable, the plan
    // waits (retried) rather than being dropped for good.
    readStored: async (key) => {
      try {
        return (await readEntry(buckets.vmis, key, VmiAccepted))?.value ?? null;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        throw new Error(`the stored VMI ${key} is unreadable: ${error.message}`);
      }
    },
  };
}

async function advanceStatus(
  bucket: KV,
  key: string,
  next: IVmiStatus,
  log: Logger,
): Promise<boolean> {
  return retryCompareAndSet(
    async () => {
      const entry = await bucket.get(key);
      let current: VmiStatus | null = null;
      if (entry?.operation === "PUT") {
        try {
          current = decode(VmiStatus, entry.value);
        } catch {
          log.warn({ key }, "unreadable status replaced");
        }
      }
      if (!mayReplaceStatus(current, next)) return false;
      if (entry) await bucket.update(key, encode(VmiStatus, next), entry.revision);
      else await bucket.create(key, encode(VmiStatus, next));
      return true;
    },
    { gaveUp: () => new Error(`status ${key} kept changing while it was written`) },
  );
}
