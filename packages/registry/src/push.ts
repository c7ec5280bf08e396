// Pushing an image tree to a registry: written as an OCI image layout beside
// it (one gzip'd layer), then each blob the repository lacks and the manifest
// under the reference's tag, as the OCI Distribution spec's push does.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type ClientOptions, type Descriptor, RegistryClient, RegistryError } from "./client.ts";
import { writeOciLayout } from "./layout.ts";
import { InvalidRegistryRefError, registryRefOf } from "./reference.ts";

export interface Pushed {
  /** The manifest's digest: `<registry>/<repository>@<digest>` names exactly this push. */
  digest: string;
  /** Blobs sent, and blobs the repository had already. */
  sent: number;
  skipped: number;
}

/** Pushes the image tree `tree` to `ref` (which must name a registry and a tag). */
export async function pushImage(
  tree: string,
  ref: string,
  options: ClientOptions & { workDir: string },
): Promise<Pushed> {
  const parsed = registryRefOf(ref);
  if (!parsed) throw new InvalidRegistryRefError(`image ${ref} names no registry to push to`);
  if (parsed.digest || !parsed.tag)
    throw new InvalidRegistryRefError(
      `image ${ref}: a push needs a tag (such as :1), not a digest`,
    );
  const layout = await mkdtemp(join(options.workDir, "push-"));
  try {
    const manifest = await writeOciLayout(tree, layout, parsed.tag);
    const blob = (d: Descriptor) => join(layout, "blobs", "sha256", d.digest.slice(7));
    const bytes = await readFile(blob(manifest));
    const body = JSON.parse(bytes.toString("utf8")) as { config: Descriptor; layers: Descriptor[] };
    const client = new RegistryClient(parsed.registry, parsed.repository, options);
    let sent = 0;
    for (const d of [...body.layers, body.config]) {
      if (await client.pushBlob(d, blob(d))) sent++;
    }
    await client.pushManifest(parsed.tag, bytes, manifest.mediaType);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (digest !== manifest.digest)
      throw new RegistryError("the manifest changed while it was sent");
    return { digest, sent, skipped: body.layers.length + 1 - sent };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
