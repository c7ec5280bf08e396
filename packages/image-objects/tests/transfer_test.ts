// Images through a real nats-server under infra/nats/headroom.conf: the
// client uploads, the validator creates the store, the launcher fetches
// into a host's store and checks what arrives.
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  connect,
  ensureCredentials,
  ensureImageObjects,
  type NatsConnection,
  type NatsUser,
  OBJECT_STORES,
  type ObjectStore,
  serverEnv,
} from "@headroom/bus";
import { createQcow2 } from "@headroom/disk-format";
import { ImageSourceError, openImageStore } from "@headroom/images";
import { type NatsServer, startNats } from "@headroom/testing";
import { jetstream } from "@nats-io/jetstream";
import { Objm } from "@nats-io/obj";
import { create as packTar } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchImage, ImageFetchError, listImageObjects, uploadImage } from "../src/mod.ts";

let dir = "";
let nats: NatsServer;
const connections: NatsConnection[] = [];
let asClient: ObjectStore;
let clientConnection: NatsConnection;
let asLauncher: ObjectStore;

async function login(user: NatsUser, seed: string): Promise<NatsConnection> {
  const nc = await connect({ name: `objects-${user}`, servers: nats.url, user, seed });
  connections.push(nc);
  return nc;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-image-objects-"));
  const credentials = await ensureCredentials(join(dir, "secrets"));
  nats = await startNats({ configFile: "infra/nats/headroom.conf", env: serverEnv(credentials) });
  // The validator creates the store at start; clients and launchers open it.
  await ensureImageObjects(await login("validator", credentials.validator));
  clientConnection = await login("client", credentials.client);
  asClient = await new Objm(clientConnection).open(OBJECT_STORES.images);
  asLauncher = await ensureImageObjects(await login("launcher", credentials.launcher));
}, 60_000);

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => {});
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function tree(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const root = join(dir, name);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

/** Puts an archive made by hand, as a hostile client could. */
async function putArchive(ref: string, cwd: string, entries: string[]): Promise<void> {
  const packed = Readable.from(packTar({ cwd, portable: true }, entries) as never);
  await asClient.put({ name: ref }, Readable.toWeb(packed) as never);
}

describe("uploadImage and fetchImage", () => {
  it("carry a tree from a client to a host's store, with its digest", async () => {
    const source = await tree("guest", {
      "boot/vmlinuz": Buffer.alloc(3000, 7),
      "boot/initrd.img": "initrd",
    });
    const progress: number[] = [];
    const uploaded = await uploadImage(asClient, "lab/guest:1", source, (done) =>
      progress.push(done),
    );
    expect(uploaded).toMatchObject({ ref: "lab/guest:1", files: 2, sizeBytes: 3006 });
    expect(uploaded.digest).toMatch(/^SHA-256=/);
    expect(progress.at(-1)).toBe(uploaded.objectBytes);

    const store = openImageStore(join(dir, "host-a"));
    const fetched = await fetchImage(asLauncher, store, "lab/guest:1", { maxBytes: 1 << 20 });
    expect(fetched).toMatchObject({ ref: "lab/guest:1", files: 2, sizeBytes: 3006 });
    expect(fetched?.digest).toBe(uploaded.digest);
    const kernel = await store.resolveFile("lab/guest:1", "/boot/vmlinuz");
    expect(await readFile(kernel)).toEqual(Buffer.alloc(3000, 7));

    const listed = await listImageObjects(asClient);
    expect(listed.map((info) => info.name)).toContain("lab/guest:1");
  });

  it("places a single file at the image root", async () => {
    const source = await tree("single", { "disk.raw": Buffer.alloc(4096) });
    await uploadImage(asClient, "lab/single", join(source, "disk.raw"));
    const store = openImageStore(join(dir, "host-single"));
    await fetchImage(asLauncher, store, "lab/single", { maxBytes: 1 << 20 });
    expect(await store.resolveFile("lab/single", "/disk.raw")).toMatch(/disk\.raw$/);
  });

  it("replaces what a host held when the image was uploaded again", async () => {
    const store = openImageStore(join(dir, "host-b"));
    await uploadImage(asClient, "lab/again", await tree("v1", { "a.txt": "one" }));
    const first = await fetchImage(asLauncher, store, "lab/again", { maxBytes: 1 << 20 });
    await uploadImage(asClient, "lab/again", await tree("v2", { "a.txt": "two" }));
    const second = await fetchImage(asLauncher, store, "lab/again", { maxBytes: 1 << 20 });
    expect(second?.digest).not.toBe(first?.digest);
    expect(await readFile(await store.resolveFile("lab/again", "/a.txt"), "utf8")).toBe("two");
  });

  it("refuses a source with a symbolic link before anything is sent", async () => {
    const source = await tree("linked", { "a.txt": "a" });
    await symlink("/etc/passwd", join(source, "passwd"));
    await expect(uploadImage(asClient, "lab/linked", source)).rejects.toThrow(
      /passwd is a symbolic link/,
    );
    expect(await asClient.info("lab/linked")).toBeNull();
  });

  it("refuses, on the host, an archive holding a link, and keeps nothing of it", async () => {
    const source = await tree("hostile", { "a.txt": "a" });
    await symlink("/etc/shadow", join(source, "shadow"));
    await putArchive("lab/hostile", source, ["."]);
    const store = openImageStore(join(dir, "host-c"));
    const fetching = fetchImage(asLauncher, store, "lab/hostile", { maxBytes: 1 << 20 });
    await expect(fetching).rejects.toBeInstanceOf(ImageSourceError);
    await expect(fetching).rejects.toThrow(/shadow \(SymbolicLink\).*only files and folders/);
    expect(await store.list()).toEqual([]);
  });

  it("refuses, on the host, a disk whose backing file is a host file", async () => {
    const source = await tree("backed", {});
    await mkdir(join(source, "disk"), { recursive: true });
    await createQcow2(join(source, "disk", "disk.qcow2"), {
      virtualSizeBytes: 1 << 20,
      backing: { path: "/etc/hostname", format: "raw" },
    });
    await putArchive("lab/backed", source, ["."]);
    const store = openImageStore(join(dir, "host-d"));
    await expect(
      fetchImage(asLauncher, store, "lab/backed", { maxBytes: 1 << 20 }),
    ).rejects.toThrow(/disk\/disk\.qcow2.*backing/);
    expect(await store.list()).toEqual([]);
  });

  it("refuses an image over the host's limit without reading it", async () => {
    await uploadImage(asClient, "lab/big", await tree("big", { "a.bin": Buffer.alloc(64 * 1024) }));
    const store = openImageStore(join(dir, "host-e"));
    await expect(fetchImage(asLauncher, store, "lab/big", { maxBytes: 1000 })).rejects.toThrow(
      ImageFetchError,
    );
    expect(await store.list()).toEqual([]);
  });

  it("gives up, keeping nothing, when the chunks it reads are gone", async () => {
    // What an upload replacing the image (or its deletion) does to a fetch
    // under way: it purges the chunks still to be read.
    const uploaded = await uploadImage(
      asClient,
      "lab/purged",
      await tree("purged", { "a.bin": Buffer.alloc(4 * 1024 * 1024, 3) }),
    );
    const info = await asClient.info("lab/purged");
    const jsm = await jetstream(clientConnection).jetstreamManager();
    await jsm.streams.purge(`OBJ_${OBJECT_STORES.images}`, {
      filter: `$O.${OBJECT_STORES.images}.C.${info?.nuid}`,
    });
    const store = openImageStore(join(dir, "host-g"));
    const started = Date.now();
    await expect(
      fetchImage(asLauncher, store, "lab/purged", { maxBytes: 1 << 30, idleMs: 1000 }),
    ).rejects.toThrow(/lab\/purged stopped arriving/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(uploaded.objectBytes).toBeGreaterThan(0);
    expect(await store.list()).toEqual([]);
  });

  it("refuses an object that is not an archive as the image's fault", async () => {
    await asClient.putBlob({ name: "lab/garbage" }, new Uint8Array(4096).fill(7));
    const store = openImageStore(join(dir, "host-h"));
    await expect(
      fetchImage(asLauncher, store, "lab/garbage", { maxBytes: 1 << 20 }),
    ).rejects.toBeInstanceOf(ImageFetchError);
    expect(await store.list()).toEqual([]);
  });

  it("answers null for an image the store does not have", async () => {
    const store = openImageStore(join(dir, "host-f"));
    expect(await fetchImage(asLauncher, store, "lab/absent", { maxBytes: 1 << 20 })).toBeNull();
  });
});
