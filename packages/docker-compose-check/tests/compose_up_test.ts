// docker-compose.yml run for real, as a user with Docker runs it: the Docker
// engine installed and started when missing (infra/docker/engine.sh), base
// images made where Docker Hub cannot be reached (base-images/build.sh), keys
// from secrets.sh, then `docker-compose up -d --build`. From the host, the CLI
// (a state dir of its own, holding only its login) uploads the tiny guest,
// runs the seed VMI from it, reads the guest's console and spends its
// capacity; the stack is scaled; the images are checked; `down -v` must leave
// nothing behind.
//
// The project and its state are this test's own (project headroom-compose-test,
// a temporary state dir, a free port for NATS): a stack the user runs is not
// touched. Its images keep their names between runs, so Docker's build cache
// makes a second run quick.
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  API_SUBJECTS,
  connect,
  readClientCredentials,
  readCredentials,
  request,
  SERVICE_NAMES,
} from "@headroom/bus";
import { GetReply, GetRequest, ListNetworksReply, ListNetworksRequest } from "@headroom/proto";
import { cliStateWithLogin, freePort, repoRoot } from "@headroom/testing";
import { Svcm } from "@nats-io/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const execFileAsync = promisify(execFile);
const root = repoRoot();
const PROJECT = "headroom-compose-test";
const SEED_VMI = "vmi-iface-request-example";
/** The tiny guest as a user uploads it, built on the host by infra/tiny-guest/build.sh --out. */
const UPLOADED = "test/tiny-guest:compose";
const MINUTE = 60_000;

let work: string;
let stateDir: string;
/** The CLI's state dir: only secrets/client.env, apart from the services'. */
let cliState: string;
let envFile: string;
let natsUrl: string;
const env: NodeJS.ProcessEnv = { ...process.env };
const seconds: Record<string, number> = {};

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; a non-zero exit is returned, not thrown. */
async function sh(file: string, args: string[], timeout = 10 * MINUTE): Promise<Ran> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      cwd: root,
      env,
      timeout,
      maxBuffer: 256 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: `${e.stderr ?? ""}${typeof e.code === "string" ? ` (${e.code})` : ""}`,
    };
  }
}

/** Runs a command that must succeed. */
async function must(file: string, args: string[], timeout?: number): Promise<string> {
  const ran = await sh(file, args, timeout);
  if (ran.code !== 0) {
    throw new Error(`${file} ${args.join(" ")} exited ${ran.code}:\n${ran.stderr}${ran.stdout}`);
  }
  return ran.stdout;
}

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await work();
  } finally {
    seconds[label] = Math.round((Date.now() - start) / 100) / 10;
  }
}

function compose(...args: string[]): Promise<string> {
  return must("docker-compose", ["-p", PROJECT, "--env-file", envFile, ...args], 20 * MINUTE);
}

/** The CLI as a user on the host runs it: the compose stack's NATS and its login, nothing else. */
function headroom(...args: string[]): Promise<Ran> {
  const bin = join(root, "packages/cli/bin/headroom.js");
  return sh(process.execPath, [bin, "--state-dir", cliState, "--server", natsUrl, ...args]);
}

/** Container ids of a compose service. */
async function containers(service: string): Promise<string[]> {
  return (await compose("ps", "-q", service)).split("\n").filter(Boolean);
}

async function health(id: string): Promise<string> {
  return (
    await must("docker", [
      "inspect",
      "-f",
      "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
      id,
    ])
  ).trim();
}

/** Waits until a service has `count` containers and each is healthy. */
async function waitHealthy(service: string, count: number, timeoutMs = 4 * MINUTE) {
  const deadline = Date.now() + timeoutMs;
  let seen = "";
  while (Date.now() < deadline) {
    const ids = await containers(service);
    const states = await Promise.all(ids.map(health));
    seen = states.join(",");
    if (ids.length === count && states.every((s) => s === "healthy")) return ids;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  throw new Error(`${service}: wanted ${count} healthy containers, saw [${seen}]`);
}

/** Runs a command in the service's (first) container. */
function inside(service: string, ...command: string[]): Promise<string> {
  return compose("exec", "-T", service, ...command);
}

/** Waits until the guest's serial console, read with `headroom logs --tail`, reports `nics` NICs. */
async function guestSees(nics: number, timeoutMs = 2 * MINUTE): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const logs = await headroom("logs", SEED_VMI, "--tail", "3");
    last = logs.stdout.trim().split("\n").at(-1) ?? logs.stderr;
    if (last.includes(`nics=${nics} `)) return last;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`the guest did not report nics=${nics}; its console last said: ${last}`);
}

/** The guest's DHCP lease on its pod NIC, as its console reports it (headroom.dhcp=1). */
async function guestLease(timeoutMs = MINUTE): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let said = "";
  while (Date.now() < deadline) {
    said = (await headroom("logs", SEED_VMI)).stdout;
    const lease = /^headroom-guest: dhcp iface=eth0 .*$/m.exec(said);
    if (lease) return lease[0];
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`the guest reported no DHCP lease; its console said: ${said.slice(-500)}`);
}

/** The VMIs of a namespace whose plans a composer container published, from its log. */
async function plansPublished(container: string, namespace: string): Promise<string[]> {
  const { stdout } = await execFileAsync("docker", ["logs", container], {
    maxBuffer: 64 * 2 ** 20,
  });
  return stdout
    .split("\n")
    .filter((line) => line.includes('"msg":"plan published"'))
    .map((line) => JSON.parse(line).vmi as string)
    .filter((vmi) => vmi.startsWith(`${namespace}/`));
}

/** The extra CAs this host trusts (Debian's place for them), for builds behind a TLS proxy. */
function hostExtraCas(): string {
  const dir = "/usr/local/share/ca-certificates";
  if (!existsSync(dir)) return "";
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".crt"))
    .map((file) => readFileSync(join(dir, file), "utf8"))
    .join("\n");
}

beforeAll(async () => {
  await timed("engine", () => must("bash", ["infra/docker/engine.sh", "--quiet"]));
  work = await mkdtemp(join(tmpdir(), "headroom-compose-"));
  stateDir = join(work, "state");
  envFile = join(work, "compose.env");
  await timed("base images", () =>
    must("bash", ["infra/docker/base-images/build.sh", "--env-file", envFile]),
  );
  await must("bash", ["infra/docker/secrets.sh", "--state-dir", stateDir, "--env-file", envFile]);
  cliState = await cliStateWithLogin(join(stateDir, "secrets"));
  const port = await freePort();
  natsUrl = `nats://127.0.0.1:${port}`;
  env.HEADROOM_NATS_PORT = String(port);
  env.HEADROOM_EXTRA_CA_CERTS = hostExtraCas();
  // What an earlier run that was cut short left.
  await compose("down", "-v", "--remove-orphans");
  await timed("build", () => compose("build"));
  await timed("up", () => compose("up", "-d"));
  await timed("healthy", async () => {
    for (const service of ["nats", "libvirt", "validator", "domain-composer", "launcher"]) {
      await waitHealthy(service, 1);
    }
  });
}, 40 * MINUTE);

afterAll(async () => {
  if (envFile && existsSync(envFile)) {
    const down = await sh("docker-compose", ["-p", PROJECT, "--env-file", envFile, "down", "-v"]);
    if (down.code !== 0) console.error(`compose down failed: ${down.stderr}`);
  }
  if (work) await rm(work, { recursive: true, force: true });
  if (cliState) await rm(cliState, { recursive: true, force: true });
  console.log(`compose test, seconds per step: ${JSON.stringify(seconds)}`);
}, 5 * MINUTE);

describe("docker-compose up", () => {
  it(
    "runs the seed VMI from an uploaded image, hot-plugs up to its capacity and refuses one more",
    async () => {
      const tree = join(work, "tiny-guest");
      await timed("tiny guest", () =>
        must("bash", ["infra/tiny-guest/build.sh", "--quiet", "--out", tree]),
      );
      const added = await timed("image add", () => headroom("image", "add", UPLOADED, tree));
      expect(added.code, added.stderr).toBe(0);
      const seed = join(work, "seed.yaml");
      await writeFile(
        seed,
        readFileSync(join(root, "examples/vmi-seed.yaml"), "utf8")
          .replaceAll("image: headroom/tiny-guest", `image: ${UPLOADED}`)
          .replace("kernelArgs: console=ttyS0", "kernelArgs: headroom.dhcp=1 console=ttyS0"),
      );
      expect(readFileSync(seed, "utf8").split(UPLOADED)).toHaveLength(3);

      const created = await headroom("network", "create", "headroom-bridge", "--bridge", "hr-br0");
      expect(created.stderr).toBe("");
      const applied = await timed("seed Running", () => headroom("apply", "-f", seed, "--wait"));
      expect(applied.code, applied.stderr).toBe(0);
      expect(applied.stdout).toMatch(/Running on libvirt: capacity 5, 2 in use, 3 free/);
      await guestSees(2);
      // The pod NIC's network, made in the libvirt container: NAT and DHCP.
      expect(await guestLease()).toMatch(/ addr=10\.0\.2\.\d+\/24 router=10\.0\.2\.1$/);

      for (const name of ["third", "fourth", "fifth"]) {
        const added = await headroom(
          "addinterface",
          SEED_VMI,
          "--name",
          name,
          "--network",
          "headroom-bridge",
        );
        expect(added.code, added.stderr).toBe(0);
      }
      const refused = await headroom(
        "addinterface",
        SEED_VMI,
        "--name",
        "sixth",
        "--network",
        "headroom-bridge",
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /no free slot for interface sixth: it asked for 5 \(effective 5\), 5 in use, 0 free/,
      );
      // What the guest itself sees: five NICs.
      expect(await guestSees(5)).toMatch(/ifaces=eth0,eth1,eth2,eth3,eth4 /);
      // Followed, as a user watches it, until Ctrl-C.
      const follow = spawn(
        process.execPath,
        [
          join(root, "packages/cli/bin/headroom.js"),
          "--state-dir",
          cliState,
          "--server",
          natsUrl,
        ].concat(["logs", SEED_VMI, "-f"]),
        { cwd: root, env },
      );
      let followed = "";
      const ended = new Promise<number | null>((resolve) => follow.once("close", resolve));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`logs -f showed: ${followed}`)), MINUTE);
        follow.stdout.on("data", (chunk: Buffer) => {
          followed += chunk.toString();
          if (followed.includes("nics=5 ")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      follow.kill("SIGINT");
      expect(await ended).toBe(0);
      // The launcher fetched the upload into its store: the host holds it.
      const images = JSON.parse((await headroom("get", "images", "-o", "json")).stdout).items;
      expect(images.find((image: { ref: string }) => image.ref === UPLOADED)).toMatchObject({
        inStore: true,
        hosts: ["libvirt"],
      });
      const inUse = await headroom("delete", "image", UPLOADED);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toContain(`is used by vmi default/${SEED_VMI}`);
      const described = await headroom("describe", "vmi", SEED_VMI);
      expect(described.stdout).toMatch(/^ {2}Free: +0$/m);

      // The refusal's event is published by the launcher after the reply: wait for it, bounded.
      let types: string[] = [];
      for (let tries = 0; tries < 30 && !types.includes("exhausted"); tries++) {
        if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
        const events = await headroom("events", "--vmi", SEED_VMI, "-o", "json");
        types = events.stdout
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line).type as string);
      }
      expect(types).toContain("reserved");
      expect(types.filter((type) => type === "attached")).toHaveLength(3);
      expect(types).toContain("exhausted");
    },
    10 * MINUTE,
  );

  it(
    "scales the validator and the composer: each replica serves requests, each VMI is composed once",
    async () => {
      await timed("scale", () =>
        compose("up", "-d", "--scale", "validator=2", "--scale", "domain-composer=2"),
      );
      const validators = await waitHealthy("validator", 2);
      const composers = await waitHealthy("domain-composer", 2);

      const login = await readClientCredentials(join(stateDir, "secrets"));
      const nc = await connect({ name: "compose-test", servers: natsUrl, ...login });
      try {
        // Replicas share a queue group: 40 requests all to one replica would be chance 2^-39.
        for (let i = 0; i < 40; i++) {
          await request(
            nc,
            API_SUBJECTS.get,
            GetRequest,
            { namespace: "default", name: SEED_VMI },
            GetReply,
          );
          await request(nc, API_SUBJECTS.listNetworks, ListNetworksRequest, {}, ListNetworksReply);
        }
        const stats = new Svcm(nc).client({ maxWait: 2000, strategy: "timer" });
        for (const [name, endpoint] of [
          [SERVICE_NAMES.validator, "get"],
          [SERVICE_NAMES.composer, "network-list"],
        ] as const) {
          const served: number[] = [];
          for await (const replica of await stats.stats(name)) {
            served.push(replica.endpoints?.find((e) => e.name === endpoint)?.num_requests ?? 0);
          }
          expect(served, `${name} ${endpoint} requests per replica`).toHaveLength(2);
          expect(
            Math.min(...served),
            `${name} ${endpoint} requests per replica: ${served}`,
          ).toBeGreaterThan(0);
        }
      } finally {
        await nc.close();
      }

      // Pipeline work: four VMIs, each composed by exactly one of the replicas.
      const names = ["scale-1", "scale-2", "scale-3", "scale-4"];
      for (const name of names) {
        const manifest = readFileSync(join(root, "examples/vmi-minimal.yaml"), "utf8").replace(
          "name: minimal",
          `name: ${name}`,
        );
        const file = join(work, `${name}.yaml`);
        await writeFile(file, manifest);
        const applied = await headroom("-n", "scale", "apply", "-f", file, "--wait");
        expect(applied.code, applied.stderr).toBe(0);
      }
      const plansBy = await Promise.all(composers.map(async (id) => plansPublished(id, "scale")));
      console.log(`plans per composer replica: ${plansBy.map((p) => p.length).join(" + ")}`);
      expect(plansBy.flat().sort()).toEqual(names.map((name) => `scale/${name}`));
      expect(validators).toHaveLength(2);
      for (const name of names) {
        const deleted = await headroom("-n", "scale", "delete", "vmi", name, "--wait");
        expect(deleted.code, deleted.stderr).toBe(0);
      }
    },
    10 * MINUTE,
  );

  it(
    "ships small images: validator and composer as a user, no secret in any layer",
    async () => {
      const sizes: Record<string, number> = {};
      const secrets = Object.values((await readCredentials(join(stateDir, "secrets"))) ?? {});
      expect(secrets).toHaveLength(4);
      for (const service of ["validator", "domain-composer", "launcher", "libvirt"]) {
        const [id] = await containers(service);
        const image = (await must("docker", ["inspect", "-f", "{{.Image}}", String(id)])).trim();
        sizes[service] = Math.round(
          Number(await must("docker", ["image", "inspect", "-f", "{{.Size}}", image])) / 2 ** 20,
        );
        // Every layer, and the image config: its history, build args and environment.
        const found = await sh("sh", [
          "-c",
          `docker save ${image} | grep -caF ${secrets.map((s) => `-e ${s}`).join(" ")}`,
        ]);
        expect(found.stdout.trim(), `${service}'s image holds a NATS seed`).toBe("0");
      }
      console.log(`image sizes (MiB): ${JSON.stringify(sizes)}`);
      expect((await inside("validator", "id", "-u")).trim()).toBe("1000");
      expect((await inside("domain-composer", "id", "-u")).trim()).toBe("1000");
    },
    10 * MINUTE,
  );

  it(
    "down -v leaves no container, network, volume or domain behind",
    async () => {
      const deleted = await timed("seed deleted", () =>
        headroom("delete", "vmi", SEED_VMI, "--wait"),
      );
      expect(deleted.code, deleted.stderr).toBe(0);
      expect(
        (
          await inside("libvirt", "virsh", "-c", "qemu:///system", "list", "--all", "--name")
        ).trim(),
      ).toBe("");
      const image = await headroom("delete", "image", UPLOADED);
      expect(image.code, image.stderr).toBe(0);
      await timed("down", () => compose("down", "-v"));
      const label = `label=com.docker.compose.project=${PROJECT}`;
      expect(await must("docker", ["ps", "-aq", "--filter", label])).toBe("");
      expect(await must("docker", ["network", "ls", "-q", "--filter", label])).toBe("");
      expect(await must("docker", ["volume", "ls", "-q", "--filter", label])).toBe("");
      // No QEMU of the stack's guests is left on this host.
      const qemu = await sh("pgrep", ["-f", `guest=default_${SEED_VMI}`]);
      expect(qemu.stdout).toBe("");
    },
    5 * MINUTE,
  );
});
