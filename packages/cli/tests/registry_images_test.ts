// VMIs whose images live in an OCI registry, as KubeVirt users name them: the
// tiny guest pushed to a real registry (Debian's docker-registry on loopback)
// by a standard tool (skopeo), pulled by the launcher when a VMI needs it,
// booted and counted as usual; pulled once for two VMIs; a missing image
// fails the VMI with the registry's reason. The CLI as a user runs it, under
// the shipped NATS permissions.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openImageStore } from "@headroom/images";
import { writeOciLayout } from "@headroom/registry";
import { type Registry, startRegistry } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace } from "./host.ts";
import { headroom, repoRoot, start } from "./run.ts";

const run = promisify(execFile);
const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  seedNetwork: false,
  refusals: /(Publish|Subscription) Violation/,
});
let registry: Registry;
/** A registry that wants a login. */
let guarded: Registry;
const LOGIN = { username: "alice", password: "s3cret" };
let work = "";
let image = "";

beforeAll(async () => {
  registry = await startRegistry();
  guarded = await startRegistry({ login: LOGIN });
  work = await mkdtemp(join(tmpdir(), "headroom-registry-images-"));
  const tree = join(work, "tiny-guest");
  await run("bash", [join(repoRoot, "infra/tiny-guest/build.sh"), "--quiet", "--out", tree]);
  const layout = join(work, "layout");
  await writeOciLayout(tree, layout, "1");
  image = `${registry.host}/headroom/tiny-guest:1`;
  await run("skopeo", [
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${layout}:1`,
    `docker://${image}`,
  ]);
  await run("skopeo", [
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `--dest-creds=${LOGIN.username}:${LOGIN.password}`,
    `oci:${layout}:1`,
    `docker://${guarded.host}/private/tiny-guest:1`,
  ]);
}, 300_000);

afterAll(async () => {
  await registry?.stop();
  await guarded?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The seed VMI with its pod interface only, booting `ref`. */
async function vmiFile(name: string, ref: string, imagePullPolicy?: string): Promise<string> {
  const vmi = await stack.seedManifest(name);
  vmi.spec.domain.devices.interfaces = [{ name: "default", masquerade: {} }];
  vmi.spec.networks = [{ name: "default", pod: {} }];
  vmi.spec.domain.firmware.kernelBoot.container.image = ref;
  vmi.spec.volumes[0].containerDisk.image = ref;
  if (imagePullPolicy) {
    vmi.spec.domain.firmware.kernelBoot.container.imagePullPolicy = imagePullPolicy;
    vmi.spec.volumes[0].containerDisk.imagePullPolicy = imagePullPolicy;
  }
  const file = join(work, `${name}.json`);
  await writeFile(file, JSON.stringify(vmi));
  return file;
}

describe("images from a registry", () => {
  it("pulls the image a VMI names, once for two VMIs, and boots them", async () => {
    for (const name of ["from-registry", "from-registry-too"]) {
      const apply = await headroom([
        ...cli,
        "apply",
        "-f",
        await vmiFile(name, image),
        "--wait",
        "--timeout",
        "150s",
      ]);
      expect(apply.stderr).toBe("");
      expect(apply.code).toBe(0);
      expect(apply.stdout).toMatch(new RegExp(`^vmi/${name} Running on `, "m"));
    }
    const follow = start([...cli, "logs", "from-registry-too", "-f"]);
    await follow.waitForOutput("headroom-guest: nics=1 ", 120_000);
    follow.child.kill("SIGINT");
    expect((await follow.done).code).toBe(0);

    const launcher = stack.service("launcher").logs();
    expect(launcher.match(/pulling image from its registry/g)).toHaveLength(1);
    expect(launcher).toMatch(/image pulled/);
    // The host holds it, and says so; headroom's own image store does not.
    const images = JSON.parse((await headroom([...cli, "get", "images", "-o", "json"])).stdout);
    expect(images.items.find((i: { ref: string }) => i.ref === image)).toMatchObject({
      inStore: false,
      fromRegistry: true,
    });
    const table = await headroom([...cli, "get", "images", image]);
    expect(table.stdout).toMatch(/ \(pulled from its registry\)\n$/);
  }, 400_000);

  it("fails a VMI whose image the registry does not have, with the registry's reason", async () => {
    const missing = `${registry.host}/headroom/nothing:1`;
    const apply = await headroom([
      ...cli,
      "apply",
      "-f",
      await vmiFile("missing-image", missing),
      "--wait",
      "--timeout",
      "60s",
    ]);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(
      `pulling image ${missing}: ${registry.host}/headroom/nothing has no 1 (HTTP 404)`,
    );
  }, 120_000);

  it("honors imagePullPolicy: Always asks the registry again, Never pulls nothing", async () => {
    const always = await headroom([
      ...cli,
      "apply",
      "-f",
      await vmiFile("always", image, "Always"),
      "--wait",
      "--timeout",
      "150s",
    ]);
    expect(always.code, always.stderr).toBe(0);
    // The manifest moved; the image did not change, so nothing else did.
    expect(stack.service("launcher").logs()).toMatch(/image unchanged in its registry/);

    const unpulled = `${registry.host}/headroom/tiny-guest:never`;
    const never = await headroom([
      ...cli,
      "apply",
      "-f",
      await vmiFile("never", unpulled, "Never"),
      "--wait",
      "--timeout",
      "60s",
    ]);
    expect(never.code).toBe(1);
    expect(never.stderr).toContain(`image ${unpulled} is not on host `);
    expect(never.stderr).toContain(", and its imagePullPolicy is Never");
  }, 300_000);

  it("pushes an image of headroom's image store to the registry, and a VMI boots from it there", async () => {
    const upload = `${namespace}/tiny-guest:1`;
    const added = await headroom([...cli, "image", "add", upload, join(work, "tiny-guest")]);
    expect(added.code, added.stderr).toBe(0);
    const pushed = `${registry.host}/pushed/tiny-guest:1`;
    const push = await headroom([...cli, "image", "push", upload, pushed]);
    expect(push.stderr).toBe("");
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(
      new RegExp(
        `^image/${upload} pushed to ${pushed.replaceAll(".", "\\.")} \\(sha256:[0-9a-f]{64}; 2 blobs sent, 0 there already\\)\n$`,
      ),
    );
    const apply = await headroom([
      ...cli,
      "apply",
      "-f",
      await vmiFile("pushed", pushed),
      "--wait",
      "--timeout",
      "150s",
    ]);
    expect(apply.code, apply.stderr).toBe(0);
    const missing = await headroom([...cli, "image", "push", "lab/nothing", pushed]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "headroom: image/lab/nothing not found in headroom's image store\n",
    );
  }, 300_000);

  it("pulls from a registry that wants a login once the host has one (headroom registry login)", async () => {
    const privateImage = `${guarded.host}/private/tiny-guest:1`;
    const apply = (name: string) =>
      headroom([...cli, "apply", "-f", `${work}/${name}.json`, "--wait", "--timeout", "150s"]);
    await vmiFile("no-login", privateImage);
    const refused = await apply("no-login");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `pulling image ${privateImage}: ${guarded.host} wants a login; give one with headroom registry login`,
    );

    // The host's administrator, on the host's state directory.
    const admin = ["--state-dir", stack.stateDir, "registry"];
    const wrong = await headroom(
      [...admin, "login", guarded.host, "-u", "alice", "--password-stdin"],
      {},
      "nope\n",
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`refused the login of alice (HTTP 401)`);
    const right = await headroom(
      [...admin, "login", guarded.host, "-u", "alice", "--password-stdin"],
      {},
      `${LOGIN.password}\n`,
    );
    expect(right.stderr).toBe("");
    expect(right.code).toBe(0);
    expect(right.stdout).toContain(`login to ${guarded.host} as alice checked and kept`);

    await vmiFile("with-login", privateImage);
    const applied = await apply("with-login");
    expect(applied.code, applied.stderr).toBe(0);
    // Never in a log line.
    expect(stack.service("launcher").logs()).not.toContain(LOGIN.password);

    const out = await headroom([...admin, "logout", guarded.host]);
    expect(out.code).toBe(0);
    const again = await headroom([...admin, "logout", guarded.host]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`headroom: no login to ${guarded.host} is kept on this host\n`);
  }, 300_000);

  it("prunes the images no VMI on the host uses, with their layers, and keeps the others", async () => {
    const store = openImageStore(join(stack.stateDir, "images"));
    const dry = await headroom([...cli, "image", "prune", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).not.toContain(image);
    expect(dry.stdout).not.toContain(`${registry.host}/pushed/tiny-guest:1`);
    expect((await store.list()).map((held) => held.ref)).toContain(image);

    for (const name of ["from-registry", "from-registry-too", "always"]) {
      const deleted = await headroom([...cli, "delete", "vmi", name, "--wait"]);
      expect(deleted.code, deleted.stderr).toBe(0);
    }
    const pruned = await headroom([...cli, "image", "prune"]);
    expect(pruned.stderr).toBe("");
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(
      new RegExp(`^host \\S+: image ${image.replaceAll(".", "\\.")} removed \\(`, "m"),
    );
    expect(pruned.stdout).not.toContain("pushed/tiny-guest");
    const held = await store.list();
    expect(held.map((one) => one.ref)).not.toContain(image);
    expect(held.map((one) => one.ref)).toContain(`${registry.host}/pushed/tiny-guest:1`);
    // The layers left are exactly those the images left are made of.
    const used = new Set(held.flatMap((one) => one.layers ?? []));
    const kept = await readdir(join(stack.stateDir, "images", "layers"));
    expect(kept.map((name) => name.replace("-", ":")).sort()).toEqual([...used].sort());
    const images = JSON.parse((await headroom([...cli, "get", "images", "-o", "json"])).stdout);
    expect(images.items.map((i: { ref: string }) => i.ref)).not.toContain(image);

    // The next VMI that needs it pulls it again.
    const pulls = () =>
      stack
        .service("launcher")
        .logs()
        .match(/image pulled/g)?.length ?? 0;
    const pulledBefore = pulls();
    const apply = await headroom([
      ...cli,
      "apply",
      "-f",
      await vmiFile("after-prune", image),
      "--wait",
      "--timeout",
      "150s",
    ]);
    expect(apply.code, apply.stderr).toBe(0);
    expect(pulls()).toBe(pulledBefore + 1);
  }, 300_000);

  it("refuses to upload under a name that names a registry", async () => {
    const add = await headroom([...cli, "image", "add", image, join(work, "tiny-guest")]);
    expect(add.code).toBe(2);
    expect(add.stderr).toContain(`image ${image} names a registry (${registry.host})`);
  });
});
