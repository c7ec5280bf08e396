import { createHash } from "node:crypto";
import { join, resolve } from "node:path";

/** The files headroom keeps on one host, all under one state directory. */
export interface HostState {
  /** `$HEADROOM_STATE_DIR`, default /var/lib/headroom. */
  root: string;
  /** The image store. */
  images: string;
  /** JetStream's store when headroom starts its own nats-server. */
  nats: string;
  /** Logs of the processes `headroom up` runs. */
  logs: string;
  /** NATS passwords (nats.env for the server and services, client.env for clients), 0700. */
  secrets: string;
  /** The launcher's KVM check result, kept for one host boot. */
  virtTypeCache: string;
  /** Per-VMI files: disk overlays and the serial console log. */
  vmDir(namespace: string, name: string): string;
  consoleLog(namespace: string, name: string): string;
  /** The disk file of a volume: `<vmDir>/<volume>.qcow2` (an overlay on its image, or blank). */
  volumeFile(namespace: string, name: string, volume: string): string;
  /** The cloud-init seed disk of a volume: `<vmDir>/<volume>.iso`. */
  seedFile(namespace: string, name: string, volume: string): string;
  /** A UEFI guest's EFI variables: `<vmDir>/efi-vars.fd` (libvirt makes it from OVMF's template). */
  nvramFile(namespace: string, name: string): string;
  /** The images a VMI's domain was made from (`<vmDir>/images.json`), so a prune keeps them. */
  imagesFile(namespace: string, name: string): string;
  /** Where every VMI's directory lives: `<root>/vms/<namespace>/<name>`. */
  vmsDir: string;
  /** The host's volumes (named disks that outlive VMIs): `<root>/volumes/<name>/`. */
  volumesDir: string;
  volumeDir(volume: string): string;
  /** A volume's disk: `<root>/volumes/<name>/disk.qcow2`. */
  volumeDisk(volume: string): string;
}

// Namespaces and names are DNS-1123 labels once validated; a path part that is
// not one would be a bug upstream, so refuse it rather than build a path with it.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Whether `value` is a DNS-1123 label, as VMI namespaces, names, volumes and interfaces are. */
export function isDnsLabel(value: string): boolean {
  return LABEL.test(value);
}

function label(what: string, value: string): string {
  if (!isDnsLabel(value)) throw new Error(`${what} "${value}" is not a DNS-1123 label`);
  return value;
}

export function hostState(env: NodeJS.ProcessEnv = process.env): HostState {
  const root = resolve(env.HEADROOM_STATE_DIR || "/var/lib/headroom");
  const vmDir = (namespace: string, name: string) =>
    join(root, "vms", label("namespace", namespace), label("name", name));
  return {
    root,
    images: join(root, "images"),
    nats: join(root, "nats"),
    logs: join(root, "logs"),
    secrets: join(root, "secrets"),
    virtTypeCache: join(root, "virt-type.json"),
    vmDir,
    consoleLog: (namespace, name) => join(vmDir(namespace, name), "console.log"),
    volumeFile: (namespace, name, volume) =>
      join(vmDir(namespace, name), `${label("volume", volume)}.qcow2`),
    seedFile: (namespace, name, volume) =>
      join(vmDir(namespace, name), `${label("volume", volume)}.iso`),
    nvramFile: (namespace, name) => join(vmDir(namespace, name), "efi-vars.fd"),
    imagesFile: (namespace, name) => join(vmDir(namespace, name), "images.json"),
    vmsDir: join(root, "vms"),
    volumesDir: join(root, "volumes"),
    volumeDir: (volume) => join(root, "volumes", label("volume", volume)),
    volumeDisk: (volume) => join(root, "volumes", label("volume", volume), "disk.qcow2"),
  };
}

/** The libvirt domain name of a VMI: `<namespace>_<name>` (`_` never appears in either). */
export function domainNameOf(namespace: string, name: string): string {
  return `${label("namespace", namespace)}_${label("name", name)}`;
}

/** The VMI a domain name stands for (domainNameOf's inverse); undefined for any other domain. */
export function vmiOfDomainName(
  domainName: string,
): { namespace: string; name: string } | undefined {
  const [namespace, name, ...rest] = domainName.split("_");
  return namespace && name && rest.length === 0 ? { namespace, name } : undefined;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** Namespace of the name-based (version 5) UUIDs made from uids that are not UUIDs. */
const UID_NAMESPACE = Buffer.from("4f1c2c3e8b5d4d6a9a0e6b2f3c1d7e90", "hex");

/**
 * The libvirt domain UUID of a VMI: its uid when that is a UUID (the
 * validator makes them so), else a version 5 UUID of the uid. The same uid
 * always gives the same UUID, so a redelivered VMI composes the same domain.
 */
export function domainUuidOf(uid: string): string {
  if (UUID.test(uid)) return uid.toLowerCase();
  const hash = createHash("sha1").update(UID_NAMESPACE).update(uid, "utf8").digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
