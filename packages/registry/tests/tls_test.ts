// A registry on HTTPS with a certificate from a CA of the administrator's,
// and a login: pulled with the CA given to the process (NODE_EXTRA_CA_CERTS,
// added to the system's), refused without it, and never retried over plain
// HTTP, where the login would travel in the clear.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createQcow2 } from "@headroom/disk-format";
import { openImageStore } from "@headroom/images";
import { makeCertificates, type Registry, startRegistry } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pullImage, writeOciLayout } from "../src/mod.ts";

const run = promisify(execFile);
const LOGIN = { username: "alice", password: "s3cret" };
const here = fileURLToPath(new URL(".", import.meta.url));
let registry: Registry;
let dir = "";
let ca = "";
let ref = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-registry-tls-"));
  const certs = await makeCertificates(dir);
  ca = certs.ca;
  registry = await startRegistry({
    login: LOGIN,
    tls: { cert: certs.serverCert, key: certs.serverKey },
  });
  const tree = join(dir, "tree");
  await mkdir(join(tree, "disk"), { recursive: true });
  await createQcow2(join(tree, "disk", "disk.qcow2"), { virtualSizeBytes: 1 << 20 });
  await writeFile(join(tree, "kernel"), "k\n");
  await writeOciLayout(tree, join(dir, "layout"), "1");
  ref = `${registry.host}/secure/guest:1`;
  await run("skopeo", [
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `--dest-creds=${LOGIN.username}:${LOGIN.password}`,
    `oci:${join(dir, "layout")}:1`,
    `docker://${ref}`,
  ]);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a registry on HTTPS with a CA of its own", () => {
  it("is refused for its certificate without the CA, not tried over plain HTTP", async () => {
    await expect(
      pullImage(openImageStore(join(dir, "store-a")), ref, { maxBytes: 1 << 26, login: LOGIN }),
    ).rejects.toThrow(`${registry.host} cannot be reached: its certificate: `);
    expect(registry.logs()).not.toMatch(/HTTP request to an HTTPS server/);
  });

  it("is pulled from with the CA given to the process", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        join(here, "pull_main.ts"),
        ref,
        join(dir, "store-b"),
        LOGIN.username,
        LOGIN.password,
      ],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca } },
    );
    expect(stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
