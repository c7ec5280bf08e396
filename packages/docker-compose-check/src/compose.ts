// Static checks of a compose file and the Dockerfiles it builds: what must hold
// for `docker compose up --build` to find every file and for every service to
// scale, without a Docker engine.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { findInContext, shown } from "./context.ts";
import { readDockerfile, substitute } from "./dockerfile.ts";
import { isIgnored, readDockerignore } from "./dockerignore.ts";

export interface ComposeBuild {
  context?: string;
  dockerfile?: string;
  target?: string;
  args?: Record<string, string | number | null> | string[];
}

export interface ComposeService {
  image?: string;
  build?: string | ComposeBuild;
  container_name?: string;
  ports?: unknown[];
  depends_on?: string[] | Record<string, { condition?: string } | null>;
  network_mode?: string;
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  healthcheck?: { test?: unknown; disable?: boolean };
  restart?: string;
  [key: string]: unknown;
}

export interface ComposeDocument {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ComposeProject {
  /** Absolute path of the compose file. */
  file: string;
  /** Its directory: relative paths in the file start here. */
  dir: string;
  doc: ComposeDocument;
}

/** A service built from a Dockerfile, with everything resolved to absolute paths. */
export interface ServiceBuild {
  service: string;
  contextDir: string;
  dockerfile: string;
  target: string | undefined;
  args: Record<string, string>;
}

/** The build arg that names the service an image runs: services/<value>/src/main.ts. */
export const ENTRY_ARG = "SERVICE";

export function entryPath(service: string): string {
  return `services/${service}/src/main.ts`;
}

/** Reads and parses a compose file; YAML merge keys (`<<`) work as in Compose. */
export function loadCompose(file: string): ComposeProject {
  const path = resolve(file);
  const doc = parse(readFileSync(path, "utf8"), { merge: true }) as unknown;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error(`${path}: a compose file is a mapping with a "services" key`);
  }
  const services = (doc as { services?: unknown }).services;
  if (services === null || typeof services !== "object" || Array.isArray(services)) {
    throw new Error(`${path}: "services" must be a mapping of service names`);
  }
  return { file: path, dir: dirname(path), doc: doc as ComposeDocument };
}

function services(project: ComposeProject): [string, ComposeService][] {
  return Object.entries(project.doc.services).map(([name, service]) => [name, service ?? {}]);
}

function argsOf(build: ComposeBuild): Record<string, string> {
  const args: Record<string, string> = {};
  if (Array.isArray(build.args)) {
    for (const item of build.args) {
      const eq = item.indexOf("=");
      if (eq !== -1) args[item.slice(0, eq)] = item.slice(eq + 1);
    }
  } else if (build.args) {
    for (const [name, value] of Object.entries(build.args)) {
      // Values may use ${VAR:-default}; with no environment, the default counts.
      if (value !== null) args[name] = substitute(String(value), {}).text;
    }
  }
  return args;
}

/** The services that have a `build`, with their context, Dockerfile, target and args. */
export function serviceBuilds(project: ComposeProject): ServiceBuild[] {
  const builds: ServiceBuild[] = [];
  for (const [service, spec] of services(project)) {
    if (spec.build === undefined) continue;
    const build: ComposeBuild =
      typeof spec.build === "string" ? { context: spec.build } : spec.build;
    const contextDir = resolve(project.dir, build.context ?? ".");
    builds.push({
      service,
      contextDir,
      dockerfile: resolve(contextDir, build.dockerfile ?? "Dockerfile"),
      target: build.target,
      args: argsOf(build),
    });
  }
  return builds;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

/**
 * Every build context and Dockerfile exists; each target is a stage and each
 * build arg is declared by an ARG of the Dockerfile; every COPY/ADD source
 * exists in the context and its .dockerignore does not leave it out; and a service named by the SERVICE build arg has its
 * entrypoint, services/<name>/src/main.ts, in the context.
 */
export function buildProblems(project: ComposeProject): string[] {
  const problems = new Set<string>();
  const root = project.dir;
  for (const build of serviceBuilds(project)) {
    const where = `services.${build.service}.build`;
    if (!isDirectory(build.contextDir)) {
      problems.add(`${where}.context: ${shown(root, build.contextDir)} is not a directory`);
      continue;
    }
    if (!existsSync(build.dockerfile)) {
      problems.add(`${where}.dockerfile: ${shown(root, build.dockerfile)} does not exist`);
      continue;
    }
    const dockerfileName = shown(root, build.dockerfile);
    const facts = readDockerfile(readFileSync(build.dockerfile, "utf8"), build.args);
    const ignore = readDockerignore(build.contextDir);
    if (build.target !== undefined && !facts.stages.includes(build.target)) {
      problems.add(
        `${where}.target: ${dockerfileName} has no stage "${build.target}" (stages: ${facts.stages.join(", ") || "none"})`,
      );
    }
    for (const arg of Object.keys(build.args)) {
      if (!facts.args.includes(arg)) {
        problems.add(
          `${where}.args.${arg}: ${dockerfileName} declares no ARG ${arg}, so it would be ignored`,
        );
      }
    }
    for (const source of facts.copySources) {
      const at = `${dockerfileName} line ${source.line} (${source.keyword})`;
      if (source.resolved === null) {
        problems.add(
          `${at}: ${source.written} uses ${source.unresolved.map((v) => `$${v}`).join(", ")}, which has no value for ${where}`,
        );
        continue;
      }
      const missing = findInContext(build.contextDir, source.resolved);
      if (missing !== null) problems.add(`${at}, built for services.${build.service}: ${missing}`);
      else if (ignore !== null && isIgnored(ignore, source.resolved)) {
        problems.add(
          `${at}, built for services.${build.service}: ${source.resolved} is left out of the build context by .dockerignore`,
        );
      }
    }
    const entryService = build.args[ENTRY_ARG];
    if (entryService !== undefined) {
      const entry = entryPath(entryService);
      if (!existsSync(join(build.contextDir, entry))) {
        problems.add(`${where}.args.${ENTRY_ARG}: ${entry} does not exist in the build context`);
      }
    }
  }
  return [...problems];
}

/** Dockerfiles under `dir` that no service builds: nothing says what their context is. */
export function unusedDockerfiles(project: ComposeProject, dir: string): string[] {
  const used = new Set(serviceBuilds(project).map((build) => build.dockerfile));
  return readdirSync(dir)
    .filter((name) => name === "Dockerfile" || name.endsWith(".Dockerfile"))
    .map((name) => resolve(dir, name))
    .filter((path) => !used.has(path))
    .map(
      (path) =>
        `${shown(project.dir, path)} is not built by any service of ${shown(project.dir, project.file)}`,
    );
}

function dependencies(spec: ComposeService): [string, string][] {
  const deps = spec.depends_on;
  if (deps === undefined) return [];
  if (Array.isArray(deps)) return deps.map((name) => [name, "service_started"]);
  return Object.entries(deps).map(([name, value]) => [name, value?.condition ?? "service_started"]);
}

/**
 * Every service named by depends_on or `network_mode: service:…` exists; a
 * service another waits to be healthy has a healthcheck (in the compose file or
 * its Dockerfile); one waited on to complete is not restarted.
 */
export function dependencyProblems(project: ComposeProject): string[] {
  const problems: string[] = [];
  const all = project.doc.services;
  const dockerfileHealth = new Map(
    serviceBuilds(project)
      .filter((build) => existsSync(build.dockerfile))
      .map((build) => [
        build.service,
        readDockerfile(readFileSync(build.dockerfile, "utf8"), build.args).hasHealthcheck,
      ]),
  );
  for (const [name, spec] of services(project)) {
    for (const [dep, condition] of dependencies(spec)) {
      const where = `services.${name}.depends_on.${dep}`;
      const target = all[dep];
      if (target === undefined) {
        problems.push(`${where}: there is no service "${dep}"`);
        continue;
      }
      if (condition === "service_healthy") {
        const hasCheck =
          (target?.healthcheck !== undefined && target.healthcheck.disable !== true) ||
          dockerfileHealth.get(dep) === true;
        if (!hasCheck)
          problems.push(`${where}: waits for "${dep}" to be healthy, but it has no healthcheck`);
      }
      if (
        condition === "service_completed_successfully" &&
        target?.restart &&
        target.restart !== "no"
      ) {
        problems.push(
          `${where}: waits for "${dep}" to complete, but it restarts (restart: ${target.restart})`,
        );
      }
    }
    const mode = spec.network_mode;
    if (typeof mode === "string" && mode.startsWith("service:")) {
      const dep = mode.slice("service:".length);
      if (all[dep] === undefined)
        problems.push(`services.${name}.network_mode: there is no service "${dep}"`);
    }
  }
  return problems;
}

/**
 * Named volumes are declared at the top level; bind-mount sources given
 * relative to the compose file exist.
 */
export function volumeProblems(project: ComposeProject): string[] {
  const problems: string[] = [];
  const declared = new Set(Object.keys(project.doc.volumes ?? {}));
  for (const [name, spec] of services(project)) {
    (spec.volumes ?? []).forEach((volume, index) => {
      const where = `services.${name}.volumes[${index}]`;
      const source =
        typeof volume === "string"
          ? volume.includes(":")
            ? volume.slice(0, volume.indexOf(":"))
            : undefined
          : volume.source;
      if (source === undefined || source === "") return; // an anonymous volume
      if (source.startsWith(".") || source.startsWith("~")) {
        if (!existsSync(resolve(project.dir, source))) {
          problems.push(`${where}: bind-mount source ${source} does not exist`);
        }
      } else if (!source.startsWith("/") && !declared.has(source)) {
        problems.push(`${where}: volume "${source}" is not declared under the top-level volumes`);
      }
    });
  }
  return problems;
}

/**
 * What `docker compose up --scale <service>=N` needs: no container_name (names
 * are unique) and no published host ports, except on the services listed in
 * `publishers`.
 */
export function scalingProblems(project: ComposeProject, publishers: string[]): string[] {
  const problems: string[] = [];
  for (const [name, spec] of services(project)) {
    if (spec.container_name !== undefined) {
      problems.push(
        `services.${name}.container_name: a fixed container name allows one container, so the service cannot scale`,
      );
    }
    if (spec.ports !== undefined && spec.ports.length > 0 && !publishers.includes(name)) {
      problems.push(
        `services.${name}.ports: only ${publishers.join(", ") || "no service"} may publish host ports; replicas would fight over them`,
      );
    }
  }
  return problems;
}

/**
 * Each build context has a .dockerignore that leaves out every path of
 * `mustLeaveOut` (relative to the context root), e.g. the host's node_modules.
 */
export function dockerignoreProblems(project: ComposeProject, mustLeaveOut: string[]): string[] {
  const problems: string[] = [];
  const contexts = [...new Set(serviceBuilds(project).map((build) => build.contextDir))];
  for (const contextDir of contexts) {
    if (!isDirectory(contextDir)) continue;
    const file = `${shown(project.dir, join(contextDir, ".dockerignore"))}`;
    const ignore = readDockerignore(contextDir);
    if (ignore === null) {
      problems.push(
        `${file} is missing: the host's dependencies and build output would go into the images`,
      );
      continue;
    }
    for (const path of mustLeaveOut) {
      if (!isIgnored(ignore, path)) problems.push(`${file} does not leave out ${path}`);
    }
  }
  return problems;
}
