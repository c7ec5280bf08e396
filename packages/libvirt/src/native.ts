// Loads the compiled addon and describes its exports. Only this package's own
// modules use these types; others use the classes in connection.ts/domain.ts.
import { createRequire } from "node:module";

/** What the addon hands the dispatcher of a connection, one per event. */
export interface NativeEvent {
  listenerId: number;
  /** A DomainEventId value, or -1 when the connection closed. */
  kind: number;
  domainName: string;
  domainUuid: string;
  event: number;
  detail: number;
  alias: string;
  reason: number;
}

export interface NativeDomain {
  readonly name: string;
  readonly uuid: string;
  create(flags: number): Promise<void>;
  destroy(flags: number): Promise<void>;
  shutdown(flags: number): Promise<void>;
  reboot(flags: number): Promise<void>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  undefine(flags: number): Promise<void>;
  getState(): Promise<{ state: number; reason: number }>;
  getInfo(): Promise<{
    state: number;
    maxMemoryKiB: number;
    memoryKiB: number;
    vcpus: number;
    cpuTimeNs: number;
  }>;
  getId(): Promise<number | null>;
  getXmlDesc(flags: number): Promise<string>;
  leasedAddresses(): Promise<LeasedAddress[]>;
  attachDevice(xml: string, flags: number): Promise<void>;
  detachDevice(xml: string, flags: number): Promise<void>;
  detachDeviceAlias(alias: string, flags: number): Promise<void>;
  updateDevice(xml: string, flags: number): Promise<void>;
  isActive(): Promise<boolean>;
  isPersistent(): Promise<boolean>;
  free(): void;
}

/** One address libvirt's DHCP server leased to a NIC of a domain. */
export interface LeasedAddress {
  mac: string;
  address: string;
  prefix: number;
  ipv6: boolean;
}

/** The host libvirt runs on: virNodeGetInfo and virNodeGetFreeMemory. */
export interface NodeInfo {
  /** The CPU architecture, e.g. "x86_64". */
  model: string;
  /** Active CPUs. */
  cpus: number;
  memoryKiB: number;
  freeMemoryBytes: number;
}

export interface NativeConnection {
  close(): Promise<void>;
  isAlive(): Promise<boolean>;
  getCapabilities(): Promise<string>;
  getDomainCapabilities(
    emulator: string | undefined,
    arch: string | undefined,
    machine: string | undefined,
    virttype: string | undefined,
    flags: number,
  ): Promise<string>;
  getLibVersion(): Promise<number>;
  getVersion(): Promise<number>;
  getHostname(): Promise<string>;
  getNodeInfo(): Promise<NodeInfo>;
  defineXml(xml: string, flags: number): Promise<NativeDomain>;
  createXml(xml: string, flags: number): Promise<NativeDomain>;
  createNetworkXml(xml: string): Promise<string>;
  destroyNetwork(name: string): Promise<void>;
  networkXml(name: string): Promise<string>;
  isNetworkActive(name: string): Promise<boolean>;
  lookupByName(name: string): Promise<NativeDomain>;
  lookupByUuid(uuid: string): Promise<NativeDomain>;
  listAllDomains(flags: number): Promise<NativeDomain[]>;
  /** Resolves to libvirt's callback id. */
  registerDomainEvent(
    listenerId: number,
    eventId: number,
    domain: NativeDomain | undefined,
  ): Promise<number>;
  deregisterDomainEvent(callbackId: number): Promise<void>;
  /** Whether pending events keep the Node process alive. */
  keepProcessAlive(keep: boolean): void;
}

export interface NativeBinding {
  open(
    uri: string | undefined,
    keepaliveIntervalSec: number,
    keepaliveCount: number,
    dispatcher: (event: NativeEvent) => void,
  ): Promise<NativeConnection>;
}

const ADDON_PATH = "../build/Release/headroom_libvirt.node";

let binding: NativeBinding | undefined;

/** The addon, loaded on first use so that importing this package never fails. */
export function nativeBinding(): NativeBinding {
  if (binding === undefined) {
    const require = createRequire(import.meta.url);
    try {
      binding = require(ADDON_PATH) as NativeBinding;
    } catch (cause) {
      const notBuilt =
        cause instanceof Error && (cause as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND";
      throw new Error(
        notBuilt
          ? "the libvirt native addon is not built: run `npm run build -w @headroom/libvirt`"
          : `the libvirt native addon failed to load (rebuild it with \`npm run build -w @headroom/libvirt\`): ${(cause as Error).message}`,
        { cause },
      );
    }
  }
  return binding;
}
