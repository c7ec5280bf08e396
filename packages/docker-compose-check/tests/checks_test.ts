// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} here is Dockerfile and Compose syntax
// Each rule catches what it is for: small compose projects written to a
// temporary directory, right and wrong.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildProblems,
  type ComposeProject,
  composeConfig,
  dependencyProblems,
  dockerignoreProblems,
  findInContext,
  isIgnored,
  loadCompose,
  parseDockerignore,
  readDockerfile,
  scalingProblems,
  substitute,
  unusedDockerfiles,
  volumeProblems,
} from "../src/mod.ts";

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** Writes the files (path → content) into a fresh directory; returns its path. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "headroom-docker-compose-check-"));
  made.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

function projectOf(files: Record<string, string>): ComposeProject {
  return loadCompose(join(tree(files), "docker-compose.yml"));
}

const APP_DOCKERFILE = [
  "ARG BASE=debian:bookworm-slim",
  "FROM ${BASE} AS build",
  "ARG SERVICE",
  "COPY package.json ./",
  "COPY services/${SERVICE}/src /app/src",
  "FROM ${BASE} AS service",
  "COPY --from=build /app /app",
  "",
].join("\n");

const APP_FILES = {
  "package.json": "{}",
  "services/api/src/main.ts": "",
  "docker/app.Dockerfile": APP_DOCKERFILE,
};

function appCompose(build: string): string {
  return `services:\n  api:\n    build:\n${build}`;
}

const GOOD_BUILD = [
  "      context: .",
  "      dockerfile: docker/app.Dockerfile",
  "      target: service",
  "      args:",
  "        SERVICE: api",
  "",
].join("\n");

describe("buildProblems", () => {
  it("finds nothing wrong in a build whose files all exist", () => {
    const project = projectOf({ ...APP_FILES, "docker-compose.yml": appCompose(GOOD_BUILD) });
    expect(buildProblems(project)).toEqual([]);
  });

  it("names a context that is not there", () => {
    const project = projectOf({
      ...APP_FILES,
      "docker-compose.yml": appCompose("      context: ./nowhere\n"),
    });
    expect(buildProblems(project)).toEqual([
      "services.api.build.context: nowhere is not a directory",
    ]);
  });

  it("names a Dockerfile that is not there", () => {
    const project = projectOf({
      ...APP_FILES,
      "docker-compose.yml": appCompose(
        "      context: .\n      dockerfile: docker/gone.Dockerfile\n",
      ),
    });
    expect(buildProblems(project)).toEqual([
      "services.api.build.dockerfile: docker/gone.Dockerfile does not exist",
    ]);
  });

  it("names a COPY source that is not in the context, with its line", () => {
    const project = projectOf({
      ...APP_FILES,
      "docker-compose.yml": appCompose(GOOD_BUILD.replace("SERVICE: api", "SERVICE: web")),
    });
    const problems = buildProblems(project);
    expect(problems).toContain(
      "docker/app.Dockerfile line 5 (COPY), built for services.api: services/web/src does not exist in the build context",
    );
    expect(problems).toContain(
      "services.api.build.args.SERVICE: services/web/src/main.ts does not exist in the build context",
    );
  });

  it("names a target that is no stage and a build arg no ARG declares", () => {
    const project = projectOf({
      ...APP_FILES,
      "docker-compose.yml": appCompose(
        GOOD_BUILD.replace("target: service", "target: runtime").replace(
          "SERVICE: api",
          "SERVICE: api\n        SERVCE: api",
        ),
      ),
    });
    expect(buildProblems(project)).toEqual([
      'services.api.build.target: docker/app.Dockerfile has no stage "runtime" (stages: build, service)',
      "services.api.build.args.SERVCE: docker/app.Dockerfile declares no ARG SERVCE, so it would be ignored",
    ]);
  });

  it("names a COPY source whose variable has no value", () => {
    const project = projectOf({
      ...APP_FILES,
      "docker-compose.yml": appCompose(
        "      context: .\n      dockerfile: docker/app.Dockerfile\n",
      ),
    });
    expect(buildProblems(project)).toEqual([
      "docker/app.Dockerfile line 5 (COPY): services/${SERVICE}/src uses $SERVICE, which has no value for services.api.build",
    ]);
  });

  it("names a COPY source that .dockerignore leaves out", () => {
    const project = projectOf({
      ...APP_FILES,
      ".dockerignore": "services\n",
      "docker-compose.yml": appCompose(GOOD_BUILD),
    });
    expect(buildProblems(project)).toEqual([
      "docker/app.Dockerfile line 5 (COPY), built for services.api: services/api/src is left out of the build context by .dockerignore",
    ]);
  });
});

describe("unusedDockerfiles", () => {
  it("names a Dockerfile no service builds", () => {
    const project = projectOf({
      ...APP_FILES,
      "docker/extra.Dockerfile": "FROM scratch\n",
      "docker-compose.yml": appCompose(GOOD_BUILD),
    });
    expect(unusedDockerfiles(project, join(project.dir, "docker"))).toEqual([
      "docker/extra.Dockerfile is not built by any service of docker-compose.yml",
    ]);
  });
});

describe("dependencyProblems", () => {
  it("names a dependency that is no service", () => {
    const project = projectOf({
      "docker-compose.yml": "services:\n  a:\n    image: x\n    depends_on: [b]\n",
    });
    expect(dependencyProblems(project)).toEqual([
      'services.a.depends_on.b: there is no service "b"',
    ]);
  });

  it("wants a healthcheck where a service waits for health, from compose or the Dockerfile", () => {
    const project = projectOf({
      Dockerfile: "FROM scratch\nHEALTHCHECK --interval=5s CMD true\n",
      "docker-compose.yml": [
        "services:",
        "  a:",
        "    image: x",
        "    depends_on:",
        "      b: { condition: service_healthy }",
        "      c: { condition: service_healthy }",
        "      d: { condition: service_healthy }",
        "  b:",
        "    image: x",
        "  c:",
        "    image: x",
        "    healthcheck: { test: [CMD, true] }",
        "  d:",
        "    build: .",
        "",
      ].join("\n"),
    });
    expect(dependencyProblems(project)).toEqual([
      'services.a.depends_on.b: waits for "b" to be healthy, but it has no healthcheck',
    ]);
  });

  it("refuses waiting for a service to complete when it restarts", () => {
    const project = projectOf({
      "docker-compose.yml": [
        "services:",
        "  a:",
        "    image: x",
        "    depends_on:",
        "      job: { condition: service_completed_successfully }",
        "  job:",
        "    image: x",
        "    restart: unless-stopped",
        "",
      ].join("\n"),
    });
    expect(dependencyProblems(project)).toEqual([
      'services.a.depends_on.job: waits for "job" to complete, but it restarts (restart: unless-stopped)',
    ]);
  });

  it("names a network_mode service that does not exist", () => {
    const project = projectOf({
      "docker-compose.yml": "services:\n  a:\n    image: x\n    network_mode: service:host1\n",
    });
    expect(dependencyProblems(project)).toEqual([
      'services.a.network_mode: there is no service "host1"',
    ]);
  });
});

describe("volumeProblems", () => {
  it("names an undeclared volume and a missing bind-mount source", () => {
    const project = projectOf({
      "conf/present.conf": "",
      "docker-compose.yml": [
        "services:",
        "  a:",
        "    image: x",
        "    volumes:",
        "      - data:/data",
        "      - ./conf/present.conf:/etc/present.conf:ro",
        "      - ./conf/absent.conf:/etc/absent.conf:ro",
        "      - /var/run/docker.sock:/var/run/docker.sock",
        "      - /anonymous",
        "      - { type: volume, source: cache, target: /cache }",
        "volumes:",
        "  cache:",
        "",
      ].join("\n"),
    });
    expect(volumeProblems(project)).toEqual([
      'services.a.volumes[0]: volume "data" is not declared under the top-level volumes',
      "services.a.volumes[2]: bind-mount source ./conf/absent.conf does not exist",
    ]);
  });
});

describe("scalingProblems", () => {
  it("names a container_name and host ports outside the allowed services", () => {
    const project = projectOf({
      "docker-compose.yml": [
        "services:",
        "  bus:",
        "    image: x",
        "    ports: ['127.0.0.1:4222:4222']",
        "  worker:",
        "    image: x",
        "    container_name: worker",
        "    ports: ['8080:8080']",
        "",
      ].join("\n"),
    });
    expect(scalingProblems(project, ["bus"])).toEqual([
      "services.worker.container_name: a fixed container name allows one container, so the service cannot scale",
      "services.worker.ports: only bus may publish host ports; replicas would fight over them",
    ]);
    expect(scalingProblems(project, [])).toContain(
      "services.bus.ports: only no service may publish host ports; replicas would fight over them",
    );
  });
});

describe("dockerignoreProblems", () => {
  it("wants a .dockerignore in each context that leaves the given paths out", () => {
    const without = projectOf({ ...APP_FILES, "docker-compose.yml": appCompose(GOOD_BUILD) });
    expect(dockerignoreProblems(without, ["node_modules"])).toEqual([
      ".dockerignore is missing: the host's dependencies and build output would go into the images",
    ]);
    const partial = projectOf({
      ...APP_FILES,
      ".dockerignore": "node_modules\n",
      "docker-compose.yml": appCompose(GOOD_BUILD),
    });
    expect(dockerignoreProblems(partial, ["node_modules", "packages/a/node_modules"])).toEqual([
      ".dockerignore does not leave out packages/a/node_modules",
    ]);
  });
});

describe(".dockerignore patterns", () => {
  const patterns = parseDockerignore(
    ["# comment", "**/node_modules", "/build/", "*.log", "docs", "!docs/keep.md", ""].join("\n"),
  );

  it("leave out a path when it or a parent matches, the last line deciding", () => {
    expect(isIgnored(patterns, "node_modules")).toBe(true);
    expect(isIgnored(patterns, "packages/a/node_modules/x/index.js")).toBe(true);
    expect(isIgnored(patterns, "build/out.o")).toBe(true);
    expect(isIgnored(patterns, "packages/a/build")).toBe(false);
    expect(isIgnored(patterns, "npm.log")).toBe(true);
    expect(isIgnored(patterns, "logs/npm.log")).toBe(false);
    expect(isIgnored(patterns, "docs/guide.md")).toBe(true);
    expect(isIgnored(patterns, "docs/keep.md")).toBe(false);
    expect(isIgnored(patterns, "src/main.ts")).toBe(false);
  });
});

describe("readDockerfile", () => {
  it("reads stages, ARGs and the context sources of COPY and ADD", () => {
    const facts = readDockerfile(
      [
        "ARG BASE=node:20",
        "FROM ${BASE} AS build",
        "ARG SERVICE=api",
        "ARG TOOL",
        "COPY --chown=1:1 a.json b.json ./",
        'COPY ["c.json", "/d/"]',
        "ADD https://example.org/archive.tgz /tmp/",
        "ADD --chmod=755 run.sh /run.sh",
        "COPY services/${SERVICE}/src /src",
        "COPY tools/$TOOL /tools",
        "FROM build",
        "COPY --from=build /app /app",
        "",
      ].join("\n"),
      { TOOL: "lint" },
    );
    expect(facts.stages).toEqual(["build"]);
    expect(facts.args).toEqual(["BASE", "SERVICE", "TOOL"]);
    expect(facts.hasHealthcheck).toBe(false);
    expect(facts.copySources.map((s) => [s.line, s.keyword, s.resolved])).toEqual([
      [5, "COPY", "a.json"],
      [5, "COPY", "b.json"],
      [6, "COPY", "c.json"],
      [8, "ADD", "run.sh"],
      [9, "COPY", "services/api/src"],
      [10, "COPY", "tools/lint"],
    ]);
  });

  it("counts HEALTHCHECK NONE as none", () => {
    expect(readDockerfile("FROM x\nHEALTHCHECK NONE\n").hasHealthcheck).toBe(false);
    expect(readDockerfile("FROM x\nHEALTHCHECK CMD true\n").hasHealthcheck).toBe(true);
  });
});

describe("substitute", () => {
  it("replaces $NAME, ${NAME} and ${NAME:-default}, and names what has no value", () => {
    expect(substitute("a/$X/${Y}/${Z:-z}", { X: "x", Y: "y" })).toEqual({
      text: "a/x/y/z",
      unresolved: [],
    });
    expect(substitute("a/${MISSING}", {})).toEqual({
      text: "a/${MISSING}",
      unresolved: ["MISSING"],
    });
  });
});

describe("findInContext", () => {
  const dir = tree({ "pkg/a.json": "", "pkg/b.json": "", "src/main.ts": "" });

  it("finds files, directories and last-part wildcards, and refuses to leave the context", () => {
    expect(findInContext(dir, "src")).toBeNull();
    expect(findInContext(dir, "/src/main.ts")).toBeNull();
    expect(findInContext(dir, "pkg/*.json")).toBeNull();
    expect(findInContext(dir, "pkg/*.yaml")).toBe(
      "pkg/*.yaml matches nothing in the build context",
    );
    expect(findInContext(dir, "lib")).toBe("lib does not exist in the build context");
    expect(findInContext(dir, "../outside")).toBe("../outside is outside the build context");
    expect(findInContext(dir, "*/main.ts")).toBe(
      "*/main.ts has a wildcard before its last part, which this check does not follow",
    );
  });
});

describe("composeConfig", () => {
  it("passes a valid file and fails an invalid one with Compose's own message", async () => {
    const good = tree({ "docker-compose.yml": "services:\n  a:\n    image: busybox\n" });
    expect(await composeConfig([join(good, "docker-compose.yml")])).toMatchObject({ ok: true });

    const bad = tree({
      "docker-compose.yml": "services:\n  a:\n    image: busybox\n    imagee: typo\n",
    });
    const result = await composeConfig([join(bad, "docker-compose.yml")]);
    expect(result.ok).toBe(false);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("imagee");
  });
});
