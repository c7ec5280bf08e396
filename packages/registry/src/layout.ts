// An image tree as an OCI image layout (the OCI image spec's directory form):
// one gzip'd tar layer of the tree (or one per tree, in order), its config and
// manifest, and index.json naming the manifest by tag. Standard tools read it (skopeo copy oci:DIR:TAG
// docker://...); it is what a push sends.
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { create } from "tar";
import { type Descriptor, MEDIA_TYPES } from "./client.ts";

const LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip";
const CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";

function hashing(into: { hash: ReturnType<typeof createHash>; size: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      into.hash.update(chunk);
      into.size += chunk.length;
      done(null, chunk);
    },
  });
}

async function writeBlob(blobs: string, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  await writeFile(join(blobs, digest.slice(7)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** One gzip'd tar layer of the tree's entries, in a stable order, owned by root. */
async function writeLayer(
  tree: string,
  blobs: string,
): Promise<{ layer: Descriptor; diffId: string }> {
  const entries = (await readdir(tree)).sort();
  const tar = { hash: createHash("sha256"), size: 0 };
  const gz = { hash: createHash("sha256"), size: 0 };
  const partial = join(blobs, "layer.partial");
  await pipeline(
    create({ cwd: tree, portable: true, noMtime: true }, entries),
    hashing(tar),
    createGzip(),
    hashing(gz),
    createWriteStream(partial),
  );
  const digest = `sha256:${gz.hash.digest("hex")}`;
  await rename(partial, join(blobs, digest.slice(7)));
  return {
    layer: { mediaType: LAYER_TYPE, digest, size: gz.size },
    diffId: `sha256:${tar.hash.digest("hex")}`,
  };
}

/**
 * Writes `tree` as an OCI image layout in `dir` (made when missing), tagged
 * `tag`; several trees make several layers, the first the lowest.
 */
export async function writeOciLayout(
  tree: string | readonly string[],
  dir: string,
  tag: string,
): Promise<Descriptor> {
  const blobs = join(dir, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const one of typeof tree === "string" ? [tree] : tree) {
    const { layer, diffId } = await writeLayer(one, blobs);
    layers.push(layer);
    diffIds.push(diffId);
  }
  const config = await writeBlob(
    blobs,
    new TextEncoder().encode(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        rootfs: { type: "layers", diff_ids: diffIds },
        config: {},
      }),
    ),
    CONFIG_TYPE,
  );
  const manifest = await writeBlob(
    blobs,
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config,
        layers,
      }),
    ),
    MEDIA_TYPES.ociManifest,
  );
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ ...manifest, annotations: { "org.opencontainers.image.ref.name": tag } }],
    }),
  );
  return manifest;
}
