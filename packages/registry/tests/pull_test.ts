// Pulling from a real registry (Debian's docker-registry on loopback), filled
// with a standard tool (skopeo) from an OCI layout this package writes.
import { execFile } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createQcow2 } from "@headroom/disk-format";
import { openImageStore } from "@headroom/images";
import { freePort, type Registry, startRegistry } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MEDIA_TYPES,
  pullImage,
  pushImage,
  RegistryClient,
  RegistryError,
  writeOciLayout,
} from "../src/mod.ts";

const run = promisify(execFile);
let registry: Registry;
let dir = "";

beforeAll(async () => {
  registry = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), "headroom-pull-"));
});

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A containerDisk-shaped tree: /disk/disk.qcow2, /boot/vmlinuz. */
async function guestTree(name: string): Promise<string> {
  const root = join(dir, "trees", name);
  await mkdir(join(root, "disk"), { recursive: true });
  await mkdir(join(root, "boot"), { recursive: true });
  await createQcow2(join(root, "disk", "disk.qcow2"), { virtualSizeBytes: 1 << 20 });
  await writeFile(join(root, "boot", "vmlinuz"), `kernel of ${name}\n`);
  return root;
}

/** Pushes `tree` (several: one layer each) to the registry as `repo:tag` with skopeo; the manifest's digest. */
async function push(tree: string | string[], repo: string, tag: string): Promise<string> {
  const layout = join(dir, "layouts", `${repo.replaceAll("/", "_")}-${tag}`);
  const manifest = await writeOciLayout(tree, layout, tag);
  await run("skopeo", [
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${layout}:${tag}`,
    `docker://${registry.host}/${repo}:${tag}`,
  ]);
  return manifest.digest;
}

function storeAt(name: string) {
  return openImageStore(join(dir, "stores", name));
}

describe("pullImage", () => {
  it("pulls an image into the store, checked, with its manifest digest, and only once", async () => {
    const digest = await push(await guestTree("one"), "lab/guest", "1");
    const store = storeAt("a");
    const ref = `${registry.host}/lab/guest:1`;
    const seen: number[] = [];
    const pulled = await pullImage(store, ref, {
      maxBytes: 64 << 20,
      onProgress: (done) => seen.push(done),
    });
    if (pulled === "unchanged") throw new Error("nothing was held");
    expect(pulled.image.digest).toBe(digest);
    expect(seen.at(-1)).toBeGreaterThan(0);
    const kernel = await store.resolveFile(ref, "/boot/vmlinuz");
    expect(await readFile(kernel, "utf8")).toBe("kernel of one\n");
    expect(await store.diskOf(ref)).toMatch(/disk\.qcow2$/);
    // Held already: the registry's manifest is the same, nothing else moves.
    expect(await pullImage(store, ref, { maxBytes: 64 << 20, held: digest })).toBe("unchanged");
    // By digest too.
    const byDigest = await pullImage(store, `${registry.host}/lab/guest@${digest}`, {
      maxBytes: 64 << 20,
    });
    expect(byDigest === "unchanged" ? "" : byDigest.image.digest).toBe(digest);
  });

  it("keeps a layer two images share once, and downloads it once", async () => {
    // One disk under two kernels: two images, three layers.
    const disk = join(dir, "trees", "shared-disk");
    await mkdir(join(disk, "disk"), { recursive: true });
    await createQcow2(join(disk, "disk", "disk.qcow2"), { virtualSizeBytes: 1 << 20 });
    const kernels = await Promise.all(
      ["a", "b"].map(async (name) => {
        const tree = join(dir, "trees", `kernel-${name}`);
        await mkdir(join(tree, "boot"), { recursive: true });
        await writeFile(join(tree, "boot", "vmlinuz"), `kernel ${name}\n`);
        return tree;
      }),
    );
    await push([disk, kernels[0] as string], "lab/shared-a", "1");
    await push([disk, kernels[1] as string], "lab/shared-b", "1");
    const store = storeAt("shared");
    const first = await pullImage(store, `${registry.host}/lab/shared-a:1`, { maxBytes: 64 << 20 });
    const second = await pullImage(store, `${registry.host}/lab/shared-b:1`, {
      maxBytes: 64 << 20,
    });
    if (first === "unchanged" || second === "unchanged") throw new Error("nothing was held");
    expect(first.reusedLayers).toBe(0);
    expect(second.reusedLayers).toBe(1);
    // Only the second image's kernel layer came over the wire.
    expect(second.downloadedBytes).toBeGreaterThan(0);
    expect(second.downloadedBytes).toBeLessThan(first.downloadedBytes);
    expect(await readdir(join(store.dir, "layers"))).toHaveLength(3);
    // Both images' disks are one file on the host.
    const inode = async (ref: string) => (await stat(await store.diskOf(ref))).ino;
    expect(await inode(`${registry.host}/lab/shared-a:1`)).toBe(
      await inode(`${registry.host}/lab/shared-b:1`),
    );
    expect(
      await readFile(
        await store.resolveFile(`${registry.host}/lab/shared-b:1`, "/boot/vmlinuz"),
        "utf8",
      ),
    ).toBe("kernel b\n");

    // Once neither image is held, a prune removes their layers; while one is, its layers stay.
    await store.remove(`${registry.host}/lab/shared-a:1`);
    const old = new Date(Date.now() - 120_000);
    for (const name of await readdir(join(store.dir, "layers")))
      await utimes(join(store.dir, "layers", name), old, old);
    expect(await store.prune()).toBe(1);
    expect(await readdir(join(store.dir, "layers"))).toHaveLength(2);
    await store.remove(`${registry.host}/lab/shared-b:1`);
    expect(await store.prune()).toBe(2);
    expect(await readdir(join(store.dir, "layers"))).toEqual([]);
  });

  it("says what is missing when the registry has no such image", async () => {
    await expect(
      pullImage(storeAt("b"), `${registry.host}/lab/nothing:1`, { maxBytes: 1 << 20 }),
    ).rejects.toThrow(`${registry.host}/lab/nothing has no 1 (HTTP 404)`);
  });

  it("refuses a blob the registry changed, and keeps nothing of it", async () => {
    await push(await guestTree("two"), "lab/tampered", "1");
    // Every blob the registry stores, rewritten with other bytes of the same length.
    const blobs = join(registry.storageDir, "docker/registry/v2/blobs/sha256");
    for (const prefix of await readdir(blobs)) {
      for (const blob of await readdir(join(blobs, prefix))) {
        const data = join(blobs, prefix, blob, "data");
        const bytes = await readFile(data);
        if (bytes[0] !== 0x1f) continue; // only gzip'd layers; the manifest must still parse
        bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1);
        await writeFile(data, bytes);
      }
    }
    const store = storeAt("c");
    await expect(
      pullImage(store, `${registry.host}/lab/tampered:1`, { maxBytes: 64 << 20 }),
    ).rejects.toThrow(/does not match its digest/);
    expect(await store.list()).toEqual([]);
  });

  it("refuses an image holding a link, and one over the host's limit before pulling it", async () => {
    const tree = await guestTree("linked");
    await symlink("/etc/shadow", join(tree, "boot", "initrd.img"));
    await push(tree, "lab/linked", "1");
    const store = storeAt("d");
    await expect(
      pullImage(store, `${registry.host}/lab/linked:1`, { maxBytes: 64 << 20 }),
    ).rejects.toThrow(/boot\/initrd\.img \(SymbolicLink\).*only files and folders/);
    await push(await guestTree("big"), "lab/big", "1");
    await expect(pullImage(store, `${registry.host}/lab/big:1`, { maxBytes: 100 })).rejects.toThrow(
      /over this host's limit of 100/,
    );
    expect(await store.list()).toEqual([]);
  });

  it("says a registry that does not answer cannot be reached", async () => {
    const port = await freePort();
    const error = await pullImage(storeAt("e"), `127.0.0.1:${port}/lab/guest:1`, {
      maxBytes: 1 << 20,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toBe(`127.0.0.1:${port} cannot be reached: ECONNREFUSED`);
  });
});

describe("pullImage of a multi-platform image", () => {
  it("picks linux/amd64 from an index, and says which platforms there are when it has none", async () => {
    // Two images in one repository; an index names one for each platform.
    const amd = await pushImage(await guestTree("amd"), `${registry.host}/lab/multi:amd`, {
      workDir: dir,
    });
    const arm = await pushImage(await guestTree("arm"), `${registry.host}/lab/multi:arm`, {
      workDir: dir,
    });
    const sizeOf = async (digest: string) => {
      const served = await fetch(`http://${registry.host}/v2/lab/multi/manifests/${digest}`, {
        headers: { accept: MEDIA_TYPES.ociManifest },
      });
      return (await served.arrayBuffer()).byteLength;
    };
    const entry = async (digest: string, architecture: string) => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest,
      size: await sizeOf(digest),
      platform: { os: "linux", architecture },
    });
    const index = (manifests: unknown[]) =>
      new TextEncoder().encode(
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }),
      );
    const client = new RegistryClient(registry.host, "lab/multi");
    await client.pushManifest(
      "both",
      index([await entry(arm.digest, "arm64"), await entry(amd.digest, "amd64")]),
      MEDIA_TYPES.ociIndex,
    );
    await client.pushManifest(
      "others",
      index([await entry(arm.digest, "arm64"), await entry(arm.digest, "s390x")]),
      MEDIA_TYPES.ociIndex,
    );
    const store = storeAt("multi");
    const ref = `${registry.host}/lab/multi:both`;
    const pulled = await pullImage(store, ref, { maxBytes: 64 << 20 });
    expect(pulled === "unchanged" ? "" : pulled.image.digest).toBe(amd.digest);
    expect(await readFile(await store.resolveFile(ref, "/boot/vmlinuz"), "utf8")).toBe(
      "kernel of amd\n",
    );
    await expect(
      pullImage(store, `${registry.host}/lab/multi:others`, { maxBytes: 64 << 20 }),
    ).rejects.toThrow("the image has no linux/amd64 variant (it has linux/arm64, linux/s390x)");
  });
});

describe("pushImage", () => {
  it("pushes a tree that pulls back the same, and sends only what the repository lacks", async () => {
    const tree = await guestTree("pushed");
    const ref = `${registry.host}/lab/pushed:1`;
    const first = await pushImage(tree, ref, { workDir: dir });
    expect(first).toMatchObject({ digest: expect.stringMatching(/^sha256:/), sent: 2, skipped: 0 });
    // skopeo, a standard tool, reads it.
    const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", `docker://${ref}`]);
    expect(JSON.parse(stdout).Digest).toBe(first.digest);
    const again = await pushImage(tree, `${registry.host}/lab/pushed:again`, { workDir: dir });
    expect(again).toEqual({ digest: first.digest, sent: 0, skipped: 2 });

    const store = storeAt("pushed");
    const pulled = await pullImage(store, ref, { maxBytes: 64 << 20 });
    expect(pulled === "unchanged" ? "" : pulled.image.digest).toBe(first.digest);
    expect(await readFile(await store.resolveFile(ref, "/boot/vmlinuz"), "utf8")).toBe(
      "kernel of pushed\n",
    );
  });

  it("needs a tag, and a registry", async () => {
    await expect(pushImage(dir, "lab/guest:1", { workDir: dir })).rejects.toThrow(
      "names no registry to push to",
    );
    await expect(
      pushImage(dir, `${registry.host}/lab/guest@sha256:${"0".repeat(64)}`, { workDir: dir }),
    ).rejects.toThrow("a push needs a tag");
  });
});
