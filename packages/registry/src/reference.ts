// Which image references name a registry, and what they name there. As Docker
// and KubeVirt read them: the first path component is a registry host when it
// has a "." or a ":" or is "localhost" (`registry:5000/kubevirt/fedora:devel`,
// `quay.io/containerdisks/fedora:40`). Any other reference (`lab/guest:1`,
// `headroom/tiny-guest`) names an image in headroom's own image store, not
// Docker Hub.

export interface RegistryRef {
  /** host[:port] */
  registry: string;
  repository: string;
  /** A tag, or undefined when the reference has a digest only. */
  tag?: string;
  digest?: string;
}

/** KubeVirt's imagePullPolicy values. */
export type PullPolicy = "Always" | "IfNotPresent" | "Never";

export class InvalidRegistryRefError extends Error {}

const COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** Whether `ref` names an image in a registry rather than in headroom's image store. */
export function namesRegistry(ref: string): boolean {
  const slash = ref.indexOf("/");
  if (slash <= 0) return false;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost";
}

/** The registry, repository, tag and digest `ref` names; undefined when it names no registry. */
export function registryRefOf(ref: string): RegistryRef | undefined {
  if (!namesRegistry(ref)) return undefined;
  const bad = (why: string) => new InvalidRegistryRefError(`image ${ref}: ${why}`);
  let rest = ref;
  let digest: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`"${digest}" is not a sha256 digest`);
  }
  const slash = rest.indexOf("/");
  const registry = rest.slice(0, slash);
  let repository = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = repository.lastIndexOf(":");
  if (colon >= 0) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`"${tag}" is not a tag`);
  }
  if (!HOST.test(registry)) throw bad(`"${registry}" is not a registry host`);
  if (!REPOSITORY.test(repository) || repository.length > 255)
    throw bad(`"${repository}" is not a repository name (lower-case, digits, ".", "_", "-", "/")`);
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** KubeVirt's default: Always for `:latest` or no tag (and no digest), else IfNotPresent. */
export function defaultPullPolicy(ref: RegistryRef): PullPolicy {
  if (ref.digest) return "IfNotPresent";
  return ref.tag === undefined || ref.tag === "latest" ? "Always" : "IfNotPresent";
}

/** Whether a registry host is this machine (plain HTTP is allowed there). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, "");
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
