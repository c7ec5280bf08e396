// A registry that wants a login (htpasswd, basic): pulls and pushes with the
// right one, a clear refusal without it or with a wrong one; logins kept in a
// file nobody else may read.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQcow2 } from "@headroom/disk-format";
import { openImageStore } from "@headroom/images";
import { type Registry, startRegistry } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  pullImage,
  pushImage,
  RegistryClient,
  readRegistryLogins,
  removeRegistryLogin,
  saveRegistryLogin,
} from "../src/mod.ts";

const LOGIN = { username: "alice", password: "s3cret" };
let registry: Registry;
let dir = "";
let tree = "";

beforeAll(async () => {
  registry = await startRegistry({ login: LOGIN });
  dir = await mkdtemp(join(tmpdir(), "headroom-login-"));
  tree = join(dir, "tree");
  await mkdir(join(tree, "disk"), { recursive: true });
  await createQcow2(join(tree, "disk", "disk.qcow2"), { virtualSizeBytes: 1 << 20 });
  await writeFile(join(tree, "kernel"), "k\n");
});

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a registry that wants a login", () => {
  it("takes a push and a pull with the login, and says so without one or with a wrong one", async () => {
    const ref = `${registry.host}/lab/private:1`;
    await expect(pushImage(tree, ref, { workDir: dir })).rejects.toThrow(
      `${registry.host} wants a login; give one with headroom registry login`,
    );
    await pushImage(tree, ref, { workDir: dir, login: LOGIN });
    const store = openImageStore(join(dir, "store"));
    await expect(pullImage(store, ref, { maxBytes: 1 << 26 })).rejects.toThrow("wants a login");
    await expect(
      pullImage(store, ref, { maxBytes: 1 << 26, login: { ...LOGIN, password: "wrong" } }),
    ).rejects.toThrow(`${registry.host}/lab/private refused the login of alice (HTTP 401)`);
    const pulled = await pullImage(store, ref, { maxBytes: 1 << 26, login: LOGIN });
    expect(pulled).not.toBe("unchanged");
    await new RegistryClient(registry.host, "", { login: LOGIN }).ping();
  });
});

describe("registry logins on a host", () => {
  it("keeps logins by registry in a file only its owner may read", async () => {
    const secrets = join(dir, "secrets");
    expect(await readRegistryLogins(secrets)).toEqual({});
    await saveRegistryLogin(secrets, "quay.io", LOGIN);
    await saveRegistryLogin(secrets, registry.host, { username: "bob", password: "x" });
    const file = join(secrets, "registries.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readRegistryLogins(secrets)).toEqual({
      "quay.io": LOGIN,
      [registry.host]: { username: "bob", password: "x" },
    });
    expect(await removeRegistryLogin(secrets, "quay.io")).toBe(true);
    expect(await removeRegistryLogin(secrets, "quay.io")).toBe(false);
    expect(Object.keys(await readRegistryLogins(secrets))).toEqual([registry.host]);
    await chmod(file, 0o644);
    await expect(readRegistryLogins(secrets)).rejects.toThrow("readable by nobody else");
    expect(await readFile(file, "utf8")).toContain("bob");
  });
});
