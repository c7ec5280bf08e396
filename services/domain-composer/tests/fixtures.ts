// The seed example as the validator stores it, and fake host lookups for unit tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { imageFilePath } from "@headroom/images";
import { repoRoot } from "@headroom/testing";
import { parseDocument, type Vmi, validateVmi } from "@headroom/vmi";
import type { AcceptedVmi, HostLookups } from "../src/mod.ts";

// biome-ignore lint/suspicious/noExplicitAny: documents are edited freely here.
export type Doc = any;

/** examples/vmi-seed.yaml, parsed; `change` edits it before validation. */
export function seedDoc(change: (doc: Doc) => void = () => {}): Doc {
  const text = readFileSync(join(repoRoot(), "examples/vmi-seed.yaml"), "utf8");
  const doc = parseDocument(text, "examples/vmi-seed.yaml") as Doc;
  change(doc);
  return doc;
}

/** The seed example normalized by validateVmi, as the validator stores and publishes it. */
export function seedVmi(change: (doc: Doc) => void = () => {}): Vmi {
  const result = validateVmi(seedDoc(change));
  if (!result.valid || !result.vmi) {
    throw new Error(`seed example invalid: ${result.errors.map((e) => e.message).join("; ")}`);
  }
  return result.vmi;
}

/** The multus networkName of the seed example. */
export const SEED_NETWORK = "headroom-bridge";

export const SEED_UID = "0b6f3c8e-4c1a-4d55-9b1e-1f2a3b4c5d6e";

export function accepted(vmi: Vmi, overrides: Partial<AcceptedVmi> = {}): AcceptedVmi {
  return {
    namespace: vmi.metadata.namespace,
    name: vmi.metadata.name,
    uid: SEED_UID,
    generation: 1,
    manifestJson: JSON.stringify(vmi),
    ...overrides,
  };
}

export interface FakeHost extends HostLookups {
  bridges: Map<string, string>;
}

/** A host whose image store is /state/images, with one network, all in memory. */
export function fakeHost(): FakeHost {
  const bridges = new Map([[SEED_NETWORK, "hrbr0"]]);
  return {
    bridges,
    imageFile: (image, pathInImage) => imageFilePath("/state/images", image, pathInImage),
    async bridgeOf(name) {
      return bridges.get(name) ?? null;
    },
    volumeFile: (namespace, name, volume) => `/state/vms/${namespace}/${name}/${volume}.qcow2`,
    seedFile: (namespace, name, volume) => `/state/vms/${namespace}/${name}/${volume}.iso`,
    nvramFile: (namespace, name) => `/state/vms/${namespace}/${name}/efi-vars.fd`,
    volumeDisk: (volume) => `/state/volumes/${volume}/disk.qcow2`,
    consoleLog: (namespace, name) => `/state/vms/${namespace}/${name}/console.log`,
  };
}
