// What every part of the launcher shares: its connections, its settings, and
// the few reads and writes of state that all of them make.
import { hostname } from "node:os";
import type { NatsConnection } from "@headroom/bus";
import {
  type Buckets,
  encode,
  type JetStreamClient,
  type Logger,
  readEntry,
  toJetStream,
} from "@headroom/bus";
import type { VirtType } from "@headroom/domain-xml";
import { type HostState, hostState } from "@headroom/host-state";
import type { Connection } from "@headroom/libvirt";
import { type IVmiStatus, VmiAccepted, VmiStatus } from "@headroom/proto";
import { KeyedQueue } from "./keyed_queue.ts";
import type { LibvirtLink } from "./reconnect.ts";

export interface LauncherOptions {
  log: Logger;
  /** The hypervisor domains run on: "kvm" when it really runs guests, else "qemu". */
  virtType: VirtType;
  /** Reported as status.node; default the host name. */
  node?: string;
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
  version?: string;
}

export interface LauncherContext {
  log: Logger;
  virtType: VirtType;
  node: string;
  now: () => number;
  detachTimeoutMs: number;
  state: HostState;
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
  /** The VMI as stored now (its record, never its manifest), or null once it is deleted. */
  readStored(key: string): Promise<VmiAccepted | null>;
}

export function launcherContext(
  nc: NatsConnection,
  conn: Connection | LibvirtLink,
  buckets: Buckets,
  options: LauncherOptions,
): LauncherContext {
  const libvirt = (): Connection => ("current" in conn ? conn.current() : conn);
  return {
    log: options.log,
    virtType: options.virtType,
    node: options.node ?? hostname(),
    now: options.now ?? Date.now,
    detachTimeoutMs: options.detachTimeoutMs ?? 30_000,
    state: hostState(options.env),
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
    readStatus: async (key) => (await readEntry(buckets.status, key, VmiStatus))?.value ?? null,
    putStatus: (key, status) => buckets.status.put(key, encode(VmiStatus, status)),
    readStored: async (key) => (await readEntry(buckets.vmis, key, VmiAccepted))?.value ?? null,
  };
}
