import {
  addPlaceholders,
  controllersAdded,
  freeHotplugSlots,
  type HotplugSlot,
  type InterfaceInfo,
  interfacesOf,
  type NicModel,
  ownerOf,
  protectNonNicRootPorts,
  readTopology,
  stripPlaceholders,
  withOwner,
} from "@headroom/domain-xml";
import { type Connection, type Domain, isLibvirtError } from "@headroom/libvirt";

/** What the launcher needs to bring one planned domain to life. */
export interface LaunchRequest {
  /** libvirt domain name. */
  domainName: string;
  /**
   * The VMI's uid (a UUID), kept in headroom's mark on the domain: a domain of
   * this name marked with another uid is a leftover of an earlier VMI. Not the
   * domain's UUID, which a VMI's firmware.uuid may choose.
   */
  ownerUid: string;
  /** Composed domain XML without placeholders. */
  baseXml: string;
  /** How many placeholder interfaces make libvirt build the room. */
  placeholders: number;
  /** The model of the placeholders, the same the hot-plugged NICs will use. */
  placeholderModel: NicModel;
  /**
   * Start the domain (default true). False defines it with its room and leaves it shut off,
   * for a host that is filled ahead of time or measured at scale.
   */
  start?: boolean;
  /**
   * What the domain needs on the host (disk files, bridges, networks), being
   * made while it is defined, since a define needs none of it: awaited before
   * the domain starts, or before a launch with `start: false` returns. Its
   * error fails the launch like a step's, leaving nothing defined.
   */
  hostReady?: Promise<unknown>;
}

/** What a running domain offers after launch. */
export interface LaunchResult {
  domain: Domain;
  /** The live XML of the running domain (its inactive XML when it was not started). */
  liveXml: string;
  /** Empty hot-pluggable slots, each one room for a NIC. */
  freeSlots: HotplugSlot[];
  /** Controllers libvirt added for the placeholders (0 when reused from a earlier run). */
  controllersAdded: number;
  /** The interfaces of the running domain. */
  interfaces: InterfaceInfo[];
  /** True when the domain was already running as planned (a redelivered plan). */
  alreadyRunning: boolean;
}

/** A step of the launch failed; `step` says which, `cause` is libvirt's error. */
export class LaunchError extends Error {
  constructor(
    readonly step: string,
    override readonly cause: unknown,
  ) {
    super(`${step}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "LaunchError";
  }
}

export type LaunchLog = (message: string, fields?: Record<string, unknown>) => void;

/** A domain of the name headroom wants exists and carries no headroom mark: it is someone else's. */
export class ForeignDomainError extends Error {
  constructor(readonly domainName: string) {
    super(
      `a domain named ${domainName} already exists on this host and was not defined by headroom ` +
        "(its metadata has no headroom mark); it is left alone: rename or remove it, or give the VMI another name",
    );
    this.name = "ForeignDomainError";
  }
}

/** Whether headroom defined this domain (its metadata carries headroom's mark). */
export async function isHeadroomDomain(domain: Domain): Promise<boolean> {
  return (await domainOwner(domain)) !== undefined;
}

/** The uid of the VMI whose mark the domain carries; undefined when headroom did not define it. */
export async function domainOwner(domain: Domain): Promise<string | undefined> {
  return ownerOf(await domain.getXmlDesc({ inactive: true }));
}

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new LaunchError(name, error);
  }
}

function hasPlaceholders(xml: string): boolean {
  return stripPlaceholders(xml).removed > 0;
}

/** What a running domain offers now. */
export interface RunningView {
  liveXml: string;
  freeSlots: HotplugSlot[];
  interfaces: InterfaceInfo[];
}

/** Reads what a running domain offers: free slots and interfaces. */
export async function inspectRunning(domain: Domain): Promise<RunningView> {
  const liveXml = await domain.getXmlDesc();
  return {
    liveXml,
    freeSlots: freeHotplugSlots(readTopology(liveXml)),
    interfaces: interfacesOf(liveXml),
  };
}

/**
 * The IPv4 addresses libvirt's DHCP server leased to the running domain's
 * NICs on libvirt NAT networks (the pod network), by MAC in lower case.
 */
export async function leasedAddresses(domain: Domain): Promise<Map<string, string>> {
  const leases = (await domain.leasedAddresses()).filter((lease) => !lease.ipv6);
  return new Map(leases.map((lease) => [lease.mac.toLowerCase(), lease.address]));
}

/** The IPv4 address leased to the NIC `alias`; undefined before the guest asked for one. */
export async function leasedAddress(domain: Domain, alias: string): Promise<string | undefined> {
  const nic = interfacesOf(await domain.getXmlDesc()).find((info) => info.alias === alias);
  const mac = nic?.mac?.toLowerCase();
  return mac ? (await leasedAddresses(domain)).get(mac) : undefined;
}

/** Destroys (when running) and undefines a domain; a domain already gone is fine. */
export async function removeDomain(domain: Domain): Promise<void> {
  try {
    if (await domain.isActive()) await domain.destroy();
  } catch (error) {
    if (!isLibvirtError(error)) throw error;
  }
  try {
    await domain.undefine({ nvram: true, managedSave: true });
  } catch (error) {
    if (!isLibvirtError(error)) throw error;
    // Gone already is what we wanted.
    if (await stillDefined(domain)) throw error;
  }
}

async function stillDefined(domain: Domain): Promise<boolean> {
  try {
    await domain.getState();
    return true;
  } catch {
    return false;
  }
}

/**
 * Defines and starts a domain with room for its placeholders, the way the seed
 * design says: define without placeholders and read the XML back (libvirt
 * assigns every address), add the placeholders to that XML and define again
 * (libvirt adds controllers; existing devices keep their addresses), strip the
 * placeholders, turn hotplug off on root ports that hold non-NIC devices,
 * define the final XML and start it.
 *
 * Every domain it defines carries headroom's mark (the VMI uid) in its metadata; a domain of that name without the mark is
 * someone else's and is refused with ForeignDomainError, untouched.
 *
 * Idempotent: a domain of the same name and mark that already runs without
 * placeholders is taken as it is; any other state left by an interrupted
 * launch (still holding placeholders, defined but not started) is removed and
 * the launch done again. On failure nothing of this launch is left defined.
 * With `start: false` the sequence ends at the final define; the slots and
 * interfaces come from the inactive XML.
 */
export async function launchDomain(
  conn: Connection,
  request: LaunchRequest,
  log: LaunchLog = () => {},
): Promise<LaunchResult> {
  const existing = await conn.findDomain(request.domainName);
  if (existing) {
    const inactiveXml = await existing.getXmlDesc({ inactive: true });
    const owner = ownerOf(inactiveXml);
    if (owner === undefined) throw new ForeignDomainError(request.domainName);
    const sameVmi = owner === request.ownerUid.toLowerCase();
    if (sameVmi && (await existing.isActive()) && !hasPlaceholders(inactiveXml)) {
      await request.hostReady;
      log("domain already running as planned", { domain: request.domainName });
      const running = await inspectRunning(existing);
      return { domain: existing, ...running, controllersAdded: 0, alreadyRunning: true };
    }
    log("removing a domain left by an earlier, unfinished launch", {
      domain: request.domainName,
      sameVmi,
    });
    await step("remove leftover domain", () => removeDomain(existing));
  }

  let defined: Domain | undefined;
  try {
    const marked = withOwner(request.baseXml, request.ownerUid);
    const domain = await step("define", () => conn.defineXml(marked, { validate: true }));
    defined = domain;
    const baseXml = await step("read back", () => domain.getXmlDesc({ inactive: true }));
    let finalXml = baseXml;
    if (request.placeholders > 0) {
      const withPlaceholders = addPlaceholders(
        baseXml,
        request.placeholders,
        request.placeholderModel,
      );
      await step("define with placeholders", () => conn.defineXml(withPlaceholders));
      const reserved = await step("read back with placeholders", () =>
        domain.getXmlDesc({ inactive: true }),
      );
      finalXml = stripPlaceholders(reserved).xml;
    }
    finalXml = protectNonNicRootPorts(finalXml);
    await step("define final", () => conn.defineXml(finalXml));
    const definedXml = await step("read back final", () => domain.getXmlDesc({ inactive: true }));
    const added = controllersAdded(baseXml, definedXml).total;
    await request.hostReady;
    if (request.start === false) {
      const freeSlots = freeHotplugSlots(readTopology(definedXml));
      log("domain defined, not started", {
        domain: request.domainName,
        placeholders: request.placeholders,
        controllersAdded: added,
        freeSlots: freeSlots.length,
      });
      return {
        domain,
        liveXml: definedXml,
        freeSlots,
        interfaces: interfacesOf(definedXml),
        controllersAdded: added,
        alreadyRunning: false,
      };
    }
    await step("start", () => domain.create());
    const running = await step("read live XML", () => inspectRunning(domain));
    log("domain running", {
      domain: request.domainName,
      placeholders: request.placeholders,
      controllersAdded: added,
      freeSlots: running.freeSlots.length,
    });
    return { domain, ...running, controllersAdded: added, alreadyRunning: false };
  } catch (error) {
    if (defined) {
      log("launch failed; removing the domain", {
        domain: request.domainName,
        error: String(error),
      });
      await removeDomain(defined).catch(() => {});
    }
    throw error instanceof LaunchError ? error : new LaunchError("launch", error);
  }
}
