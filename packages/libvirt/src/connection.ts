import { CLOSE_REASONS, type CloseReason, ErrorCode, Flags } from "./constants.ts";
import { Domain } from "./domain.ts";
import { isLibvirtError, LibvirtError, settle } from "./errors.ts";
import {
  DOMAIN_EVENT_IDS,
  DOMAIN_EVENT_KINDS,
  type DomainEvent,
  type DomainEventKind,
  decodeDomainEvent,
} from "./events.ts";
import { type KvmSupport, probeKvm } from "./kvm.ts";
import { type NativeConnection, type NativeEvent, type NodeInfo, nativeBinding } from "./native.ts";

export interface OpenOptions {
  /**
   * Seconds between keepalive messages to libvirtd; 0 turns keepalive off.
   * Default 5. With `keepaliveCount`, how fast a dead libvirtd is noticed:
   * after about interval × (count + 1) seconds the close callback fires.
   */
  keepaliveIntervalSec?: number;
  /** Unanswered keepalive messages before the connection counts as dead. Default 5. */
  keepaliveCount?: number;
}

export interface DomainCapabilitiesOptions {
  /** Path of the emulator binary, e.g. "/usr/bin/qemu-system-x86_64". */
  emulator?: string;
  /** e.g. "x86_64". */
  arch?: string;
  /** Machine type, e.g. "q35". */
  machine?: string;
  /** "kvm" or "qemu" (TCG). */
  virttype?: string;
}

export interface DefineOptions {
  /** Validate the XML against libvirt's schema first (VIR_DOMAIN_DEFINE_VALIDATE). */
  validate?: boolean;
}

export interface CreateOptions {
  paused?: boolean;
  /** Destroy the domain when this connection closes. */
  autodestroy?: boolean;
  /** Validate the XML against libvirt's schema first. */
  validate?: boolean;
}

export interface ListDomainsOptions {
  /** Only running (or paused) domains. */
  active?: boolean;
  /** Only domains that are not running. Neither or both: all domains. */
  inactive?: boolean;
}

export interface DomainEventOptions {
  /** Only events of this domain. Default: every domain of the connection. */
  domain?: Domain;
  /** Only these kinds. Default: all. */
  kinds?: readonly DomainEventKind[];
}

export type DomainEventListener = (event: DomainEvent) => void;
export type CloseListener = (reason: CloseReason) => void;
/** Stops the events of one onDomainEvent() call. Idempotent. */
export type Unsubscribe = () => Promise<void>;

/**
 * One libvirt registration: an event id, for one domain or all. libvirt
 * refuses a second registration of the same callback for the same event and
 * domain on a connection, so listeners share registrations.
 */
interface Registration {
  /** The id the addon tags this registration's events with. */
  readonly id: number;
  readonly listeners: Set<DomainEventListener>;
  callbackId: number;
}

// Listener errors must not cross into native code; rethrow them on their own
// turn, as an EventEmitter would.
function callSafely<A>(listener: (arg: A) => void, arg: A): void {
  try {
    listener(arg);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * A connection to libvirt. Every call runs on libuv's thread pool and returns
 * a Promise; events arrive on the JavaScript thread. Call close() when done.
 */
export class Connection {
  readonly uri: string;
  #native: NativeConnection | undefined;
  #closing: Promise<void> | undefined;
  #lost = false;
  #nextRegistrationId = 1;
  /** Registrations by `${eventId}:${domain uuid or "*"}`, and by id. */
  readonly #registrations = new Map<string, Registration>();
  readonly #registrationsById = new Map<number, Registration>();
  /** Registration changes of one key run one after another. */
  readonly #pending = new Map<string, Promise<unknown>>();
  #listenerCount = 0;
  readonly #closeListeners = new Set<CloseListener>();

  private constructor(uri: string) {
    this.uri = uri;
  }

  /**
   * Opens a connection. Fails with a LibvirtError when libvirtd cannot be
   * reached (code SYSTEM_ERROR, "Failed to connect socket to …").
   */
  static async open(uri = "qemu:///system", options: OpenOptions = {}): Promise<Connection> {
    const connection = new Connection(uri);
    try {
      connection.#native = await settle(
        nativeBinding().open(
          uri,
          options.keepaliveIntervalSec ?? 5,
          options.keepaliveCount ?? 5,
          (event: NativeEvent) => connection.#dispatch(event),
        ),
      );
    } catch (error) {
      if (!(error instanceof LibvirtError)) throw error;
      throw new LibvirtError(
        `cannot open a libvirt connection to ${uri}: ${error.message}`,
        error,
        {
          cause: error,
        },
      );
    }
    return connection;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Closes the connection: stops its events, frees its domain handles (they
   * reject afterwards). Safe to call more than once.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const native = this.#handle();
      this.#registrations.clear();
      this.#registrationsById.clear();
      this.#listenerCount = 0;
      this.#closeListeners.clear();
      native.keepProcessAlive(false);
      this.#closing = settle(native.close());
    }
    return this.#closing;
  }

  /**
   * Calls `listener` when the connection breaks (libvirtd stopped or crashed,
   * keepalive timeout, I/O error); not when close() is called. Returns a
   * function that removes the listener.
   */
  onClose(listener: CloseListener): () => void {
    this.#closeListeners.add(listener);
    return () => {
      this.#closeListeners.delete(listener);
    };
  }

  /** Whether the connection still works; false once closed or broken. */
  async isAlive(): Promise<boolean> {
    if (this.closed || this.#lost) return false;
    return settle(this.#handle().isAlive());
  }

  /** The host's capabilities XML (virConnectGetCapabilities). */
  async getCapabilities(): Promise<string> {
    return settle(this.#handle().getCapabilities());
  }

  /** What domains of the given kind can have (virConnectGetDomainCapabilities). */
  async getDomainCapabilities(options: DomainCapabilitiesOptions = {}): Promise<string> {
    return settle(
      this.#handle().getDomainCapabilities(
        options.emulator,
        options.arch,
        options.machine,
        options.virttype,
        0,
      ),
    );
  }

  /** libvirt's version as major × 1,000,000 + minor × 1,000 + release, e.g. 9000000. */
  async getLibVersion(): Promise<number> {
    return settle(this.#handle().getLibVersion());
  }

  /** The hypervisor's version, encoded like getLibVersion (QEMU 7.2.0 → 7002000). */
  async getVersion(): Promise<number> {
    return settle(this.#handle().getVersion());
  }

  async getHostname(): Promise<string> {
    return settle(this.#handle().getHostname());
  }

  /** The host's CPUs, memory and free memory, as libvirt sees them. */
  async getNodeInfo(): Promise<NodeInfo> {
    return settle(this.#handle().getNodeInfo());
  }

  /** Defines (or redefines) a persistent domain (virDomainDefineXMLFlags). */
  async defineXml(xml: string, options: DefineOptions = {}): Promise<Domain> {
    const flags = options.validate === true ? Flags.DOMAIN_DEFINE_VALIDATE : 0;
    return new Domain(await settle(this.#handle().defineXml(xml, flags)));
  }

  /** Creates and starts a transient domain (virDomainCreateXML). */
  async createXml(xml: string, options: CreateOptions = {}): Promise<Domain> {
    let flags = 0;
    if (options.paused === true) flags |= Flags.DOMAIN_START_PAUSED;
    if (options.autodestroy === true) flags |= Flags.DOMAIN_START_AUTODESTROY;
    if (options.validate === true) flags |= Flags.DOMAIN_START_VALIDATE;
    return new Domain(await settle(this.#handle().createXml(xml, flags)));
  }

  /**
   * Creates and starts a transient network (virNetworkCreateXML) and resolves
   * with its name. Rejects with ErrorCode.OPERATION_FAILED ("already exists")
   * when one of that name is there.
   */
  async createNetworkXml(xml: string): Promise<string> {
    return settle(this.#handle().createNetworkXml(xml));
  }

  /** Stops a network (virNetworkDestroy); rejects with ErrorCode.NO_NETWORK when there is none. */
  async destroyNetwork(name: string): Promise<void> {
    return settle(this.#handle().destroyNetwork(name));
  }

  /** A network's XML (virNetworkGetXMLDesc); rejects with ErrorCode.NO_NETWORK when there is none. */
  async networkXml(name: string): Promise<string> {
    return settle(this.#handle().networkXml(name));
  }

  /** Whether a network runs (virNetworkIsActive); rejects with ErrorCode.NO_NETWORK when there is none. */
  async isNetworkActive(name: string): Promise<boolean> {
    return settle(this.#handle().isNetworkActive(name));
  }

  /** Rejects with code ErrorCode.NO_DOMAIN when there is no such domain. */
  async lookupByName(name: string): Promise<Domain> {
    return new Domain(await settle(this.#handle().lookupByName(name)));
  }

  /** Rejects with code ErrorCode.NO_DOMAIN when there is no such domain. */
  async lookupByUuid(uuid: string): Promise<Domain> {
    return new Domain(await settle(this.#handle().lookupByUuid(uuid)));
  }

  /** Like lookupByName, but undefined when there is no such domain. */
  async findDomain(name: string): Promise<Domain | undefined> {
    try {
      return await this.lookupByName(name);
    } catch (error) {
      if (isLibvirtError(error, ErrorCode.NO_DOMAIN)) return undefined;
      throw error;
    }
  }

  /** Domains of this connection (virConnectListAllDomains). */
  async listDomains(options: ListDomainsOptions = {}): Promise<Domain[]> {
    let flags = 0;
    if (options.active === true) flags |= Flags.CONNECT_LIST_DOMAINS_ACTIVE;
    if (options.inactive === true) flags |= Flags.CONNECT_LIST_DOMAINS_INACTIVE;
    if (flags === (Flags.CONNECT_LIST_DOMAINS_ACTIVE | Flags.CONNECT_LIST_DOMAINS_INACTIVE)) {
      flags = 0;
    }
    const natives = await settle(this.#handle().listAllDomains(flags));
    return natives.map((native) => new Domain(native));
  }

  /** Names of this connection's domains. */
  async listDomainNames(options: ListDomainsOptions = {}): Promise<string[]> {
    const domains = await this.listDomains(options);
    for (const domain of domains) domain.free();
    return domains.map((domain) => domain.name);
  }

  /**
   * Calls `listener` for domain events (virConnectDomainEventRegisterAny).
   * Resolves once libvirt delivers them; the returned function stops them.
   * While any listener is registered, the process stays alive, as with an
   * open server socket.
   */
  async onDomainEvent(
    listener: DomainEventListener,
    options: DomainEventOptions = {},
  ): Promise<Unsubscribe> {
    this.#handle();
    const kinds = [...new Set(options.kinds ?? DOMAIN_EVENT_KINDS)];
    for (const kind of kinds) {
      if (!(kind in DOMAIN_EVENT_IDS)) {
        throw new TypeError(
          `onDomainEvent: unknown event kind "${kind}"; known: ${DOMAIN_EVENT_KINDS.join(", ")}`,
        );
      }
    }
    // Each call gets a listener of its own identity, so the same function
    // passed twice is called twice, and unsubscribing one leaves the other.
    const own: DomainEventListener = (event) => listener(event);
    this.#listenerCount++;
    this.#updateKeepAlive();

    const joined: number[] = [];
    let active = true;
    const unsubscribe = async (): Promise<void> => {
      if (!active) return;
      active = false;
      this.#listenerCount--;
      this.#updateKeepAlive();
      await Promise.all(joined.map((eventId) => this.#leave(eventId, options.domain, own)));
    };

    const outcomes = await Promise.allSettled(
      kinds.map(async (kind) => {
        const eventId = DOMAIN_EVENT_IDS[kind];
        await this.#join(eventId, options.domain, own);
        joined.push(eventId);
      }),
    );
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) {
      await unsubscribe().catch(() => undefined);
      throw failed.reason;
    }
    return unsubscribe;
  }

  #serially<T>(key: string, change: () => Promise<T>): Promise<T> {
    const previous = this.#pending.get(key) ?? Promise.resolve();
    const next = previous.then(change, change);
    const settled = next.catch(() => undefined);
    this.#pending.set(key, settled);
    void settled.then(() => {
      if (this.#pending.get(key) === settled) this.#pending.delete(key);
    });
    return next;
  }

  #join(eventId: number, domain: Domain | undefined, listener: DomainEventListener): Promise<void> {
    const key = `${eventId}:${domain?.uuid ?? "*"}`;
    return this.#serially(key, async () => {
      const existing = this.#registrations.get(key);
      if (existing !== undefined) {
        existing.listeners.add(listener);
        return;
      }
      const native = this.#handle();
      const registration: Registration = {
        id: this.#nextRegistrationId++,
        listeners: new Set([listener]),
        callbackId: -1,
      };
      this.#registrationsById.set(registration.id, registration);
      try {
        registration.callbackId = await settle(
          native.registerDomainEvent(registration.id, eventId, domain?.native),
        );
      } catch (error) {
        this.#registrationsById.delete(registration.id);
        throw error;
      }
      this.#registrations.set(key, registration);
    });
  }

  #leave(
    eventId: number,
    domain: Domain | undefined,
    listener: DomainEventListener,
  ): Promise<void> {
    const key = `${eventId}:${domain?.uuid ?? "*"}`;
    return this.#serially(key, async () => {
      const registration = this.#registrations.get(key);
      if (registration === undefined || !registration.listeners.delete(listener)) return;
      if (registration.listeners.size > 0) return;
      this.#registrations.delete(key);
      this.#registrationsById.delete(registration.id);
      if (this.closed) return; // close() dropped every registration
      await settle(this.#handle().deregisterDomainEvent(registration.callbackId));
    });
  }

  /**
   * Whether this host can run KVM domains. Without `probeName`, answers from
   * the domain capabilities (which can say yes while QEMU is then refused
   * /dev/kvm). With it, also starts and destroys a tiny paused transient KVM
   * domain of that name, which settles the question; a launcher should still
   * fall back to TCG (`type='qemu'`) if a real start fails.
   */
  async kvmSupport(options: { probeName?: string } = {}): Promise<KvmSupport> {
    return probeKvm(this, options.probeName);
  }

  #handle(): NativeConnection {
    if (this.#native === undefined || this.#closing !== undefined) {
      throw new LibvirtError(`the libvirt connection to ${this.uri} is closed`, {
        code: ErrorCode.INVALID_CONN,
        domain: 0,
      });
    }
    return this.#native;
  }

  #updateKeepAlive(): void {
    this.#native?.keepProcessAlive(!this.#lost && !this.closed && this.#listenerCount > 0);
  }

  #dispatch(native: NativeEvent): void {
    if (native.kind === -1) {
      this.#lost = true;
      this.#updateKeepAlive();
      const reason = CLOSE_REASONS[native.reason] ?? "error";
      for (const listener of [...this.#closeListeners]) callSafely(listener, reason);
      return;
    }
    const registration = this.#registrationsById.get(native.listenerId);
    const event = decodeDomainEvent(native);
    if (registration === undefined || event === undefined) return;
    for (const listener of [...registration.listeners]) callSafely(listener, event);
  }
}
