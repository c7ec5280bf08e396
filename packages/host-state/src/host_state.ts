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
}

// Namespaces and names are DNS-1123 labels once validated; a path part that is
// not one would be a bug upstream, so refuse it rather than build a path with it.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function label(what: string, value: string): string {
  if (!LABEL.test(value)) throw new Error(`${what} "${value}" is not a DNS-1123 label`);
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
  };
}

/** The libvirt domain name of a VMI: `<namespace>_<name>` (`_` never appears in either). */
export function domainNameOf(namespace: string, name: string): string {
  return `${label("namespace", namespace)}_${label("name", name)}`;
}
