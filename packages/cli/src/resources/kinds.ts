// The kinds of things get and delete work on, and the names users may call them by.

export type Kind = "vmi" | "image" | "network" | "volume" | "node";

const ALIASES: Record<string, Kind> = {
  vmi: "vmi",
  vmis: "vmi",
  virtualmachineinstance: "vmi",
  virtualmachineinstances: "vmi",
  image: "image",
  images: "image",
  network: "network",
  networks: "network",
  net: "network",
  volume: "volume",
  volumes: "volume",
  vol: "volume",
  pvc: "volume",
  node: "node",
  nodes: "node",
  no: "node",
  host: "node",
  hosts: "node",
};

export const KIND_NAMES =
  "vmi (vmis), image (images), network (networks), volume (volumes), node (nodes, hosts)";

/** The kind a resource word names (case-insensitive, singular or plural), or undefined. */
export function kindOf(word: string): Kind | undefined {
  return ALIASES[word.toLowerCase()];
}
