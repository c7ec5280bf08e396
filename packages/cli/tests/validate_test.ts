import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const bin = fileURLToPath(new URL("../bin/headroom.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `headroom` binary from the repository root, as a user would. */
function headroom(args: string[], input?: string): Run {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    input,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const fixture = (name: string) => `packages/cli/tests/fixtures/${name}`;

describe("headroom validate: valid files (exit 0)", () => {
  it("prints the seed example's capacity of 5", () => {
    const run = headroom(["validate", "-f", "examples/vmi-seed.yaml"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      "examples/vmi-seed.yaml: valid. default/vmi-iface-request-example: capacity 5 network interfaces (2 defined, 3 free for hot-plug; requested 5)\n",
    );
  });

  it("prints the minimal example's capacity of 1, without a request", () => {
    const run = headroom(["validate", "-f", "examples/vmi-minimal.yaml"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "default/minimal: capacity 1 network interface (1 defined, none free for hot-plug; no kubevirt.io/interface request)",
    );
  });

  it("validates the pc example", () => {
    const run = headroom(["validate", "-f", "examples/vmi-pc.yaml"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("lab/legacy: capacity 8 network interfaces");
  });

  it("validates the seed design's example as written", () => {
    const run = headroom(["validate", "-f", "packages/vmi/tests/fixtures/seed-example.yaml"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("capacity 5 network interfaces");
  });

  it("reads JSON", () => {
    const run = headroom(["validate", "-f", fixture("vmi.json")]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("lab/from-json: capacity 10 network interfaces");
  });

  it("reads stdin with -f -", () => {
    const yaml = readFileSync(new URL("../../../examples/vmi-seed.yaml", import.meta.url), "utf8");
    const run = headroom(["validate", "-f", "-"], yaml);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^stdin: valid\. .*capacity 5 network interfaces/);
  });

  it("prints JSON with -o json", () => {
    const run = headroom(["validate", "-f", "examples/vmi-seed.yaml", "-o", "json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      valid: true,
      errors: [],
      warnings: [],
      capacity: { requested: 5, interfaces: 2, effective: 5 },
    });
  });

  it("prints a Warning: line on stderr for each field without effect, and stays valid", () => {
    const run = headroom(
      ["validate", "-f", "-"],
      JSON.stringify({
        apiVersion: "kubevirt.io/v1",
        kind: "VirtualMachineInstance",
        metadata: { name: "plain" },
        spec: { domain: {}, tolerations: [] },
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      "Warning: spec.tolerations has no effect: headroom's hosts carry no taints, so there is nothing to tolerate\n",
    );
    expect(run.stdout).toContain("valid.");
  });

  it("accepts the long option names", () => {
    const run = headroom(["validate", "--filename", "examples/vmi-seed.yaml", "--output", "json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).valid).toBe(true);
  });
});

describe("headroom validate: invalid files (exit 1)", () => {
  it("prints each error with its field path", () => {
    const run = headroom(["validate", "-f", fixture("invalid.yaml")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      [
        `${fixture("invalid.yaml")}: invalid, 1 error:`,
        "  - spec.domain.devices.gpus is refused: headroom's hosts pass no hardware through to guests",
        "",
      ].join("\n"),
    );
  });

  it("prints the interface request error in KubeVirt's words", () => {
    const run = headroom(["validate", "-f", fixture("bad-request.yaml")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      "  - spec.domain.resources.requests[kubevirt.io/interface]: provided resources interface requests must be an integer between 0 to 32 (got 33)",
    );
  });

  it("prints errors as JSON with -o json", () => {
    const run = headroom(["validate", "-f", fixture("bad-request.yaml"), "-o", "json"]);
    expect(run.code).toBe(1);
    const output = JSON.parse(run.stdout);
    expect(output.valid).toBe(false);
    expect(output.capacity).toBeNull();
    expect(output.errors).toEqual([
      {
        field: "spec.domain.resources.requests[kubevirt.io/interface]",
        message:
          "spec.domain.resources.requests[kubevirt.io/interface]: provided resources interface requests must be an integer between 0 to 32 (got 33)",
      },
    ]);
  });

  it("refuses kubevirt.io/interface under limits", () => {
    const run = headroom(["validate", "-f", fixture("limits-request.yaml"), "-o", "json"]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).errors.map((e: { field: string }) => e.field)).toEqual([
      "spec.domain.resources.limits[kubevirt.io/interface]",
    ]);
  });
});

describe("headroom validate: usage and input errors (exit 2)", () => {
  it("refuses a file with several documents, saying so", () => {
    const run = headroom(["validate", "-f", fixture("two-documents.yaml")]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `headroom: ${fixture("two-documents.yaml")} holds 2 documents; headroom takes one VirtualMachineInstance per file\n`,
    );
  });

  it("names a missing file", () => {
    const run = headroom(["validate", "-f", "no/such/vmi.yaml"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("headroom: cannot read no/such/vmi.yaml: no such file\n");
  });

  it("names a directory given as the file", () => {
    const run = headroom(["validate", "-f", "examples"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("headroom: cannot read examples: it is a directory\n");
  });

  it("names the line of broken YAML", () => {
    const run = headroom(
      ["validate", "-f", "-"],
      "apiVersion: kubevirt.io/v1\nkind: [VirtualMachineInstance\n",
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^headroom: stdin is not valid YAML or JSON: .*line 3/);
  });

  it("refuses empty stdin", () => {
    const run = headroom(["validate", "-f", "-"], "");
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("headroom: stdin holds no document\n");
  });

  it("refuses input over 1 MiB", () => {
    const run = headroom(["validate", "-f", "-"], `a: "${"x".repeat(1024 * 1024)}"\n`);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "headroom: stdin is larger than 1048576 bytes, the most headroom reads\n",
    );
  });

  it("requires -f", () => {
    const run = headroom(["validate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '-f, --filename <file>' not specified");
  });

  it("refuses an unknown output format", () => {
    const run = headroom(["validate", "-f", "examples/vmi-seed.yaml", "-o", "xml"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Allowed choices are json");
  });

  it("refuses an unknown option", () => {
    const run = headroom(["validate", "-f", "examples/vmi-seed.yaml", "--strict"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown option '--strict'");
  });

  it("refuses an unknown command", () => {
    const run = headroom(["frobnicate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("unknown command 'frobnicate'");
  });
});

describe("headroom help", () => {
  it("lists the commands and exit codes", () => {
    const run = headroom(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: headroom [options] [command]");
    expect(run.stdout).toContain("validate [options]");
    expect(run.stdout).toContain("Exit codes:\n  0  success\n  1  rejected, failed or not found");
    for (const command of ["up", "apply", "get", "delete", "logs", "image", "network"]) {
      expect(run.stdout).toContain(`\n  ${command} `);
    }
  });

  it("explains validate with examples and exit codes", () => {
    const run = headroom(["validate", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: headroom validate [options]");
    expect(run.stdout).toContain("-f, --filename <file>");
    expect(run.stdout).toContain("headroom validate -f examples/vmi-seed.yaml");
    expect(run.stdout).toContain(
      "2  usage error, unreadable file, or not exactly one YAML/JSON document",
    );
  });

  it("prints the version", () => {
    const run = headroom(["--version"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("0.1.0\n");
  });

  it("runs through npx from the repository root", () => {
    const result = spawnSync("npx", ["--no-install", "headroom", "--help"], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Usage: headroom");
  });
});
