// The repository's docker-compose.yml and infra/docker, checked with real tools
// (docker-compose, nats-server, sh, busybox) but without a Docker engine: no
// image is built and no container runs here.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, repoRoot } from "@headroom/testing";
import { DockerfileParser } from "dockerfile-ast";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildProblems,
  composeConfig,
  dependencyProblems,
  dockerignoreProblems,
  entryPath,
  loadCompose,
  scalingProblems,
  serviceBuilds,
  unusedDockerfiles,
  volumeProblems,
} from "../src/mod.ts";

const run = promisify(execFile);
const root = repoRoot();
const composeFile = join(root, "docker-compose.yml");
const dockerDir = join(root, "infra/docker");
const project = loadCompose(composeFile);
const services = project.doc.services;

/**
 * What infra/docker/secrets.sh puts in .env, for compose to fill in: public
 * keys (real ones, made for this test: nats-server checks them) and seeds
 * (stand-ins: no service logs in here).
 */
const PUBLIC_KEYS: Record<string, string> = {
  VALIDATOR: "UCFSRUJQWR67Z4CZJDZCG5VQCAI7WKZSDTQUVS47NHKKUF3GBLCM6NFY",
  COMPOSER: "UAY2OMSOSZ2N3ZZM5MIWR5M44VZJS6NFNPG5FUEOPGZCR2T5665CRH42",
  LAUNCHER: "UDQJYLNWH6HAOTTTTTAOHRN2MJBYL3CW2OI4QB3F6G3QLEGEFJRWFG4J",
  CLIENT: "UACZDSCGLR2NFNBJO3W6QDXA6ABTF452FLLWSYQBTCBTMV2XN36OBS5O",
};
const KEYS: Record<string, string> = Object.fromEntries(
  Object.entries(PUBLIC_KEYS).flatMap(([user, key]) => [
    [`HEADROOM_NATS_NKEY_${user}`, key],
    [`HEADROOM_NATS_SEED_${user}`, `SUtest${user}`],
  ]),
);

/** The headroom services, each run from its own entrypoint. */
const HEADROOM_SERVICES = ["validator", "domain-composer", "launcher"];

describe("docker-compose.yml", () => {
  it("passes docker-compose config -q with the keys secrets.sh writes, and stops without them", async () => {
    const result = await composeConfig([composeFile], {
      cwd: root,
      env: { ...process.env, ...KEYS },
    });
    expect(result.ok, result.output).toBe(true);
    const bare = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !/^HEADROOM_NATS_(NKEY|SEED)_/.test(name)),
    );
    // A directory without .env, so compose sees no keys at all.
    const elsewhere = await mkdtemp(join(tmpdir(), "headroom-compose-"));
    try {
      const without = await composeConfig([composeFile], { cwd: elsewhere, env: bare });
      expect(without.ok).toBe(false);
      expect(without.output).toContain("run bash infra/docker/secrets.sh first");
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it("gives each headroom service its own NATS user and only its own seed; the server only public keys", () => {
    const users: Record<string, string> = {
      validator: "validator",
      "domain-composer": "composer",
      launcher: "launcher",
    };
    for (const name of HEADROOM_SERVICES) {
      const environment = services[name]?.environment as Record<string, string>;
      const user = users[name] as string;
      expect(environment.HEADROOM_NATS_USER, name).toBe(user);
      expect(environment.HEADROOM_NATS_SEED, name).toMatch(
        new RegExp(`^\\$\\{HEADROOM_NATS_SEED_${user.toUpperCase()}:\\?`),
      );
      const mentions = JSON.stringify(services[name]).match(/HEADROOM_NATS_(SEED|NKEY)_[A-Z]+/g);
      expect(new Set(mentions), name).toEqual(
        new Set([`HEADROOM_NATS_SEED_${user.toUpperCase()}`]),
      );
    }
    const server = JSON.stringify(services.nats);
    expect(server).not.toMatch(/HEADROOM_NATS_SEED/);
    expect(new Set(server.match(/HEADROOM_NATS_NKEY_[A-Z]+/g))).toEqual(
      new Set(
        ["VALIDATOR", "COMPOSER", "LAUNCHER", "CLIENT"].map((u) => `HEADROOM_NATS_NKEY_${u}`),
      ),
    );
  });

  it("builds from contexts and Dockerfiles that exist, copying only files that exist", () => {
    expect(buildProblems(project)).toEqual([]);
  });

  it("builds every Dockerfile under infra/docker", () => {
    expect(readdirSync(dockerDir).filter((name) => name.endsWith(".Dockerfile")).length).toBe(2);
    expect(unusedDockerfiles(project, dockerDir)).toEqual([]);
  });

  it("depends only on services that exist, healthy or completed as they can be", () => {
    expect(dependencyProblems(project)).toEqual([]);
  });

  it("mounts declared volumes and bind-mounts files that exist", () => {
    expect(volumeProblems(project)).toEqual([]);
  });

  it("lets every service scale: no container_name, host ports on nats only", () => {
    expect(scalingProblems(project, ["nats"])).toEqual([]);
    // The CLI on the host reaches NATS, as the client user; loopback only, as TLS is off.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Compose's variable, as the file has it
    expect(services.nats?.ports).toEqual(["127.0.0.1:${HEADROOM_NATS_PORT:-4222}:4222"]);
  });

  it("runs validator, domain-composer and launcher from services/<name>/src/main.ts", () => {
    const runs = Object.fromEntries(
      serviceBuilds(project)
        .filter((build) => build.target === "service")
        .map((build) => [build.service, build.args.SERVICE]),
    );
    expect(runs).toEqual(Object.fromEntries(HEADROOM_SERVICES.map((name) => [name, name])));
    for (const name of HEADROOM_SERVICES) {
      expect(existsSync(join(root, entryPath(name))), entryPath(name)).toBe(true);
      // service.Dockerfile builds it with turbo --filter=@headroom/$SERVICE...
      const manifest = join(root, "services", name, "package.json");
      expect(JSON.parse(readFileSync(manifest, "utf8")).name, manifest).toBe(`@headroom/${name}`);
    }
  });

  it("runs the service compiled in the image, with plain node", () => {
    const text = readFileSync(join(dockerDir, "service.Dockerfile"), "utf8");
    // The raw arguments: dockerfile-ast's JSON strings lose their spaces.
    const cmd = DockerfileParser.parse(text).getCMDs().at(-1)?.getArgumentsContent() ?? "[]";
    expect(JSON.parse(cmd)).toEqual([
      "sh",
      "-c",
      "exec node services/$HEADROOM_SERVICE/dist/main.js",
    ]);
  });

  it("has a .dockerignore that keeps the host's dependencies and build output out", () => {
    expect(
      dockerignoreProblems(project, [
        "node_modules",
        "packages/libvirt/node_modules",
        "packages/libvirt/build",
        "packages/proto/gen",
        "packages/cli/dist",
        "services/launcher/dist",
        ".turbo",
        ".git",
      ]),
    ).toEqual([]);
  });

  it("points every headroom service at NATS on the compose network", () => {
    for (const name of HEADROOM_SERVICES) {
      expect(services[name]?.environment, name).toMatchObject({
        HEADROOM_NATS_URL: "nats://nats:4222",
      });
    }
  });

  it("shares libvirt's socket directory and the state directory with the launcher", () => {
    const shared = ["libvirt-run:/var/run/libvirt", "headroom-state:/var/lib/headroom"];
    expect(services.libvirt?.volumes).toEqual(expect.arrayContaining(shared));
    expect(services.launcher?.volumes).toEqual(expect.arrayContaining(shared));
    expect(services.launcher?.environment).toMatchObject({
      HEADROOM_LIBVIRT_URI: "qemu:///system",
      HEADROOM_STATE_DIR: "/var/lib/headroom",
    });
    // Bridges the launcher makes must be in the network namespace where libvirt plugs taps.
    expect(services.launcher?.network_mode).toBe("service:libvirt");
    expect(services.launcher?.cap_add).toContain("NET_ADMIN");
    // Not privileged (Docker refuses that where a capability is outside the
    // bounding set): tap devices need NET_ADMIN and /dev/net/tun.
    expect(services.libvirt?.privileged).toBeUndefined();
    expect(services.libvirt?.cap_add).toEqual(["NET_ADMIN"]);
    expect(services.libvirt?.devices).toEqual(["/dev/net/tun"]);
    expect(services["tiny-guest"]?.volumes).toContain("headroom-state:/var/lib/headroom");
  });
});

describe("the nats service's command line", () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("starts nats-server with headroom.conf and JetStream, on all interfaces, healthy", async () => {
    const nats = services.nats ?? {};
    const command = nats.command as string[];
    const environment = nats.environment as Record<string, string>;
    const dataDir = await mkdtemp(join(tmpdir(), "headroom-compose-nats-"));
    dirs.push(dataDir);

    // Container paths to host paths, through the service's own mounts.
    const mounts = new Map<string, string>();
    for (const volume of (nats.volumes ?? []) as string[]) {
      const [source, target] = volume.split(":") as [string, string];
      mounts.set(target, source.startsWith(".") ? join(root, source) : dataDir);
    }
    const onHost = (value: string) => mounts.get(value) ?? value;
    const port = await freePort();
    const monitorPort = await freePort();
    // Later flags win: the ports move off 4222/8222 so nothing else is disturbed.
    const args = [...command.map(onHost), "-p", String(port), "-m", String(monitorPort)];
    const env = { ...process.env };
    // Compose fills ${NAME:?…} from .env; here from the test's keys.
    const interpolate = (value: string) =>
      value.replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => KEYS[name] ?? "");
    for (const [name, value] of Object.entries(environment)) {
      env[name] = onHost(interpolate(value));
    }

    let log = "";
    const child = spawn("nats-server", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    child.stdout.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });

    // The compose healthcheck, run by busybox as on the alpine image, on the moved port.
    const [kind, ...check] = (nats.healthcheck?.test ?? []) as string[];
    expect(kind).toBe("CMD");
    const healthcheck = check.map((word) => word.replace(":8222/", `:${monitorPort}/`));
    const deadline = Date.now() + 20_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline && child.exitCode === null) {
      healthy = await run("busybox", healthcheck).then(
        () => true,
        () => false,
      );
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(healthy, log).toBe(true);

    const varz = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as {
      host: string;
      port: number;
      max_payload: number;
      auth_required: boolean;
    };
    expect(varz).toMatchObject({
      host: "0.0.0.0",
      port,
      max_payload: 2 * 1024 * 1024,
      auth_required: true,
    });
    const jsz = (await (await fetch(`http://127.0.0.1:${monitorPort}/jsz`)).json()) as {
      config?: { store_dir?: string };
    };
    expect(jsz.config?.store_dir?.startsWith(dataDir), JSON.stringify(jsz)).toBe(true);
  });
});

describe("infra/docker scripts", () => {
  const scripts = readdirSync(dockerDir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".sh"))
    .map((name) => join(dockerDir, name));

  it("are executable scripts that parse with the shell their first line names", async () => {
    expect(scripts.length).toBe(5);
    for (const script of scripts) {
      expect(statSync(script).mode & 0o111, script).toBe(0o111);
      const shell = readFileSync(script, "utf8").startsWith("#!/usr/bin/env bash") ? "bash" : "sh";
      await run(shell, ["-n", script]);
    }
  });

  it("the service entrypoint makes TMPDIR, readable by others, then runs the command", async () => {
    const dir = await mkdtemp(join(tmpdir(), "headroom-compose-entry-"));
    try {
      const tmp = join(dir, "state", "tmp");
      const { stdout } = await run(
        "sh",
        [join(dockerDir, "service-entrypoint.sh"), "sh", "-c", 'echo "ran with $TMPDIR"'],
        { env: { ...process.env, TMPDIR: tmp } },
      );
      expect(stdout.trim()).toBe(`ran with ${tmp}`);
      expect(statSync(tmp).isDirectory()).toBe(true);
      expect(statSync(tmp).mode & 0o777).toBe(0o755);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
