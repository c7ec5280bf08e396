// This host's record in the hosts bucket: what it is (CPUs, memory, machine
// types, versions, labels), whether it is ready, and what it holds (images).
// The launcher is its one writer; it writes it at start, at every heartbeat,
// when its images change, and as NotReady when it stops. Readers age it: a
// record not refreshed within HEARTBEATS_TO_NOT_READY heartbeats is NotReady.
import { arch } from "node:os";
import {
  encode,
  errorText,
  type KV,
  type Logger,
  retryTransient,
  subjectToken,
} from "@headroom/bus";
import { machineTypes } from "@headroom/domain-xml";
import { vmiOfDomainName } from "@headroom/host-state";
import type { Connection } from "@headroom/libvirt";
import { HostCondition, HostRecord, type IHeldImage, type IHostRecord } from "@headroom/proto";

/** How often the launcher refreshes its host's record by default. */
export const DEFAULT_HEARTBEAT_MS = 10_000;

/** The labels every host carries, as Kubernetes names them for nodes. */
export function defaultHostLabels(node: string): Record<string, string> {
  return {
    "kubernetes.io/hostname": node,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": arch() === "x64" ? "amd64" : arch(),
  };
}

export interface HostRecorderOptions {
  node: string;
  bucket: KV;
  libvirt: () => Connection;
  log: Logger;
  now: () => number;
  virtType: string;
  /** Labels beyond the defaults (which they may override). */
  labels: Record<string, string>;
  heartbeatMs: number;
  /** How long this host may stay NotReady before its VMIs count as lost (NodeLost). */
  lostAfterMs: number;
  version: string;
}

/** libvirt's version numbers (major × 1e6 + minor × 1e3 + release) as text. */
export function versionText(encoded: number): string {
  return `${Math.floor(encoded / 1e6)}.${Math.floor(encoded / 1e3) % 1000}.${encoded % 1000}`;
}

export class HostRecorder {
  readonly #options: HostRecorderOptions;
  #record: IHostRecord;
  #timer: NodeJS.Timeout | undefined;
  // Writes go one after another, so the last one written is the newest.
  #writing: Promise<unknown> = Promise.resolve();

  constructor(options: HostRecorderOptions) {
    this.#options = options;
    this.#record = {
      node: options.node,
      labels: { ...defaultHostLabels(options.node), ...options.labels },
      heartbeatMs: options.heartbeatMs,
      lostAfterMs: options.lostAfterMs,
      startedUnixMs: options.now(),
      virtType: options.virtType,
      launcherVersion: options.version,
      images: [],
    };
  }

  get labels(): Readonly<Record<string, string>> {
    return this.#record.labels ?? {};
  }

  /** Reads what does not change while libvirtd runs, writes the record, and keeps it fresh. */
  async start(): Promise<void> {
    await this.#readFixedFacts();
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), this.#options.heartbeatMs);
    this.#timer.unref();
  }

  /** What the host holds changed: the record says so now. */
  setImages(images: IHeldImage[]): Promise<void> {
    this.#record = { ...this.#record, images };
    return this.#write();
  }

  /** Refreshes what changes (free memory, running VMs, readiness) and writes the record. */
  async beat(): Promise<void> {
    try {
      const conn = this.#options.libvirt();
      const [info, running] = await Promise.all([
        conn.getNodeInfo(),
        conn.listDomainNames({ active: true }),
      ]);
      if (!this.#record.machineTypes?.length) await this.#readFixedFacts();
      this.#record = {
        ...this.#record,
        condition: HostCondition.HOST_CONDITION_READY,
        reason: "",
        cpus: info.cpus,
        memoryBytes: info.memoryKiB * 1024,
        memoryFreeBytes: info.freeMemoryBytes,
        vmsRunning: running.filter((name) => vmiOfDomainName(name) !== undefined).length,
      };
    } catch (error) {
      this.#record = {
        ...this.#record,
        condition: HostCondition.HOST_CONDITION_NOT_READY,
        reason: `libvirt unreachable: ${errorText(error)}`,
      };
    }
    await this.#write().catch((error: unknown) =>
      this.#options.log.warn(
        { err: error },
        "host record not written; the next heartbeat tries again",
      ),
    );
  }

  /** Stops the heartbeat and says why the host takes no more work. */
  async stop(reason: string): Promise<void> {
    clearInterval(this.#timer);
    this.#record = { ...this.#record, condition: HostCondition.HOST_CONDITION_NOT_READY, reason };
    await this.#write().catch((error: unknown) =>
      this.#options.log.warn({ err: error }, "host record not written at stop"),
    );
  }

  async #readFixedFacts(): Promise<void> {
    try {
      const conn = this.#options.libvirt();
      const [capabilities, libvirtVersion, qemuVersion, info] = await Promise.all([
        conn.getCapabilities(),
        conn.getLibVersion(),
        conn.getVersion(),
        conn.getNodeInfo(),
      ]);
      this.#record = {
        ...this.#record,
        arch: info.model,
        machineTypes: machineTypes(capabilities, info.model),
        libvirtVersion: versionText(libvirtVersion),
        qemuVersion: versionText(qemuVersion),
      };
    } catch (error) {
      // The heartbeat says libvirt is unreachable; the facts are read at a later one.
      this.#options.log.warn({ err: error }, "host facts not read yet");
    }
  }

  #write(): Promise<void> {
    const record = { ...this.#record, updatedUnixMs: this.#options.now() };
    // A cluster electing the bucket's leader answers late for a moment.
    const written = this.#writing.then(() =>
      retryTransient(() =>
        this.#options.bucket.put(subjectToken(this.#options.node), encode(HostRecord, record)),
      ),
    );
    this.#writing = written.catch(() => {});
    return written.then(() => {});
  }
}
