import { DOMAIN_STATE_REASONS, DOMAIN_STATES, type DomainStateName, Flags } from "./constants.ts";
import { settle } from "./errors.ts";
import type { LeasedAddress, NativeDomain } from "./native.ts";

/** Where a device change applies. None set: libvirt's "current" (live if running, else config). */
export interface DeviceChangeOptions {
  /** The running domain. */
  live?: boolean;
  /** The persistent definition, used at next start. */
  config?: boolean;
  /** Whichever of the two the domain's state implies; not with live/config. */
  current?: boolean;
}

export interface UpdateDeviceOptions extends DeviceChangeOptions {
  /** Force the change, e.g. eject a locked CD-ROM. */
  force?: boolean;
}

export interface StartOptions {
  /** Start with its CPUs paused. */
  paused?: boolean;
  /** Destroy the domain when this connection closes. */
  autodestroy?: boolean;
  bypassCache?: boolean;
  /** Boot afresh, discarding any managed save image. */
  forceBoot?: boolean;
  /** Re-initialize NVRAM from its template. */
  resetNvram?: boolean;
}

export interface UndefineOptions {
  /** Also remove the managed save image. */
  managedSave?: boolean;
  /** Also remove snapshot metadata. */
  snapshotsMetadata?: boolean;
  /** Also remove checkpoint metadata. */
  checkpointsMetadata?: boolean;
  /** Also remove the NVRAM file (needed to undefine a UEFI domain that has one). */
  nvram?: boolean;
  /** Keep the NVRAM file. */
  keepNvram?: boolean;
  /** Also remove TPM state. */
  tpm?: boolean;
  /** Keep TPM state. */
  keepTpm?: boolean;
}

export interface XmlDescOptions {
  /** The persistent definition instead of the running one. */
  inactive?: boolean;
  /** The running definition (the default); not with `inactive`. */
  live?: boolean;
  /** Include security-sensitive parts such as passwords. */
  secure?: boolean;
  /** Only what another host can take over. */
  migratable?: boolean;
  /** Update the guest CPU to what the host provides. */
  updateCpu?: boolean;
}

export interface DestroyOptions {
  /** Only SIGTERM the emulator, never SIGKILL. */
  graceful?: boolean;
}

export interface DomainStatus {
  /** e.g. "running", "shutoff"; `unknown (N)` for numbers newer than this binding. */
  state: DomainStateName | `unknown (${number})`;
  /** Why, e.g. "booted" or "destroyed". */
  reason: string;
  /** libvirt's numbers: virDomainState and the state's reason enum. */
  stateCode: number;
  reasonCode: number;
}

export interface DomainInfo {
  state: DomainStateName | `unknown (${number})`;
  stateCode: number;
  maxMemoryKiB: number;
  memoryKiB: number;
  vcpus: number;
  /** CPU time used, in nanoseconds. */
  cpuTimeNs: number;
}

export function stateName(code: number): DomainStateName | `unknown (${number})` {
  return DOMAIN_STATES[code] ?? `unknown (${code})`;
}

function reasonName(state: number, reason: number): string {
  const name = DOMAIN_STATES[state];
  return (
    (name === undefined ? undefined : DOMAIN_STATE_REASONS[name][reason]) ?? `unknown (${reason})`
  );
}

function flagsOf(options: object, table: Record<string, number>): number {
  let flags = 0;
  for (const [option, flag] of Object.entries(table)) {
    if ((options as Record<string, unknown>)[option] === true) flags |= flag;
  }
  return flags;
}

export function deviceChangeFlags(options: DeviceChangeOptions): number {
  if (options.current === true && (options.live === true || options.config === true)) {
    throw new TypeError(
      "device change options: `current` cannot be combined with `live` or `config`",
    );
  }
  return flagsOf(options, { live: Flags.DOMAIN_AFFECT_LIVE, config: Flags.DOMAIN_AFFECT_CONFIG });
}

/**
 * A libvirt domain handle. Its libvirt object is freed when this object is
 * garbage-collected, when `free()` is called, or when its connection closes;
 * after that its methods reject with a LibvirtError.
 */
export class Domain {
  readonly #native: NativeDomain;

  /** @internal Domains come from a Connection. */
  constructor(native: NativeDomain) {
    this.#native = native;
  }

  /** @internal */
  get native(): NativeDomain {
    return this.#native;
  }

  get name(): string {
    return this.#native.name;
  }

  /** The domain's UUID, e.g. "4dea22b3-1d52-d8f3-2516-782e98ab3fa0". */
  get uuid(): string {
    return this.#native.uuid;
  }

  /** Starts a defined domain (virDomainCreateWithFlags). */
  async create(options: StartOptions = {}): Promise<void> {
    return settle(
      this.#native.create(
        flagsOf(options, {
          paused: Flags.DOMAIN_START_PAUSED,
          autodestroy: Flags.DOMAIN_START_AUTODESTROY,
          bypassCache: Flags.DOMAIN_START_BYPASS_CACHE,
          forceBoot: Flags.DOMAIN_START_FORCE_BOOT,
          resetNvram: Flags.DOMAIN_START_RESET_NVRAM,
        }),
      ),
    );
  }

  /** Same as create(). */
  async start(options: StartOptions = {}): Promise<void> {
    return this.create(options);
  }

  /** Stops the domain at once, like pulling the plug (virDomainDestroyFlags). */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    return settle(
      this.#native.destroy(flagsOf(options, { graceful: Flags.DOMAIN_DESTROY_GRACEFUL })),
    );
  }

  /** Asks the guest to shut down (ACPI or agent, as the hypervisor chooses); returns before it has. */
  async shutdown(): Promise<void> {
    return settle(this.#native.shutdown(0));
  }

  /** Asks the guest to reboot. */
  async reboot(): Promise<void> {
    return settle(this.#native.reboot(0));
  }

  /** Pauses the domain's CPUs. */
  async suspend(): Promise<void> {
    return settle(this.#native.suspend());
  }

  /** Resumes paused CPUs. */
  async resume(): Promise<void> {
    return settle(this.#native.resume());
  }

  /** Removes the persistent definition (virDomainUndefineFlags); a running domain becomes transient. */
  async undefine(options: UndefineOptions = {}): Promise<void> {
    return settle(
      this.#native.undefine(
        flagsOf(options, {
          managedSave: Flags.DOMAIN_UNDEFINE_MANAGED_SAVE,
          snapshotsMetadata: Flags.DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
          nvram: Flags.DOMAIN_UNDEFINE_NVRAM,
          keepNvram: Flags.DOMAIN_UNDEFINE_KEEP_NVRAM,
          checkpointsMetadata: Flags.DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
          tpm: Flags.DOMAIN_UNDEFINE_TPM,
          keepTpm: Flags.DOMAIN_UNDEFINE_KEEP_TPM,
        }),
      ),
    );
  }

  async getState(): Promise<DomainStatus> {
    const { state, reason } = await settle(this.#native.getState());
    return {
      state: stateName(state),
      reason: reasonName(state, reason),
      stateCode: state,
      reasonCode: reason,
    };
  }

  async getInfo(): Promise<DomainInfo> {
    const info = await settle(this.#native.getInfo());
    return { ...info, state: stateName(info.state), stateCode: info.state };
  }

  /**
   * The addresses libvirt's DHCP server leased to this running domain's NICs
   * (virDomainInterfaceAddresses, lease source): NICs on libvirt NAT networks only.
   */
  async leasedAddresses(): Promise<LeasedAddress[]> {
    return settle(this.#native.leasedAddresses());
  }

  /** The hypervisor's id of a running domain; null when it is not running. */
  async getId(): Promise<number | null> {
    return settle(this.#native.getId());
  }

  /** The domain's XML (virDomainGetXMLDesc). */
  async getXmlDesc(options: XmlDescOptions = {}): Promise<string> {
    if (options.inactive === true && options.live === true) {
      throw new TypeError("XML options: `inactive` and `live` exclude each other");
    }
    return settle(
      this.#native.getXmlDesc(
        flagsOf(options, {
          inactive: Flags.DOMAIN_XML_INACTIVE,
          secure: Flags.DOMAIN_XML_SECURE,
          migratable: Flags.DOMAIN_XML_MIGRATABLE,
          updateCpu: Flags.DOMAIN_XML_UPDATE_CPU,
        }),
      ),
    );
  }

  /** Attaches a device (virDomainAttachDeviceFlags). Live attaches emit a device-added event. */
  async attachDevice(xml: string, options: DeviceChangeOptions = {}): Promise<void> {
    return settle(this.#native.attachDevice(xml, deviceChangeFlags(options)));
  }

  /**
   * Asks for a device to be detached (virDomainDetachDeviceFlags). A live
   * detach needs the guest's cooperation: libvirt waits a few seconds for it,
   * then returns; the device-removed event tells when the guest let go.
   */
  async detachDevice(xml: string, options: DeviceChangeOptions = {}): Promise<void> {
    return settle(this.#native.detachDevice(xml, deviceChangeFlags(options)));
  }

  /** Like detachDevice, naming the device by its alias, e.g. "net1" (virDomainDetachDeviceAlias). */
  async detachDeviceAlias(alias: string, options: DeviceChangeOptions = {}): Promise<void> {
    return settle(this.#native.detachDeviceAlias(alias, deviceChangeFlags(options)));
  }

  /** Changes a device in place, e.g. a NIC's link state (virDomainUpdateDeviceFlags). */
  async updateDevice(xml: string, options: UpdateDeviceOptions = {}): Promise<void> {
    const flags =
      deviceChangeFlags(options) | (options.force === true ? Flags.DOMAIN_DEVICE_MODIFY_FORCE : 0);
    return settle(this.#native.updateDevice(xml, flags));
  }

  async isActive(): Promise<boolean> {
    return settle(this.#native.isActive());
  }

  async isPersistent(): Promise<boolean> {
    return settle(this.#native.isPersistent());
  }

  /** Releases the libvirt handle now instead of at garbage collection. Idempotent. */
  free(): void {
    this.#native.free();
  }
}
