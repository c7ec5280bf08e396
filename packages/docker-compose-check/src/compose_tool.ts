import { execFile } from "node:child_process";

export interface ComposeConfigResult {
  /** True when the tool exited 0. */
  ok: boolean;
  /** Exit code, or null when the tool could not be started. */
  code: number | null;
  /** What it printed on stdout and stderr. */
  output: string;
}

export interface ComposeConfigOptions {
  /** Default `docker-compose` (Debian's package: Compose v1.29, no engine needed). */
  binary?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `docker-compose -f FILE… config -q`: Compose's own parser and schema
 * validation, with interpolation and override merging, and no Docker engine.
 */
export function composeConfig(
  files: string[],
  options: ComposeConfigOptions = {},
): Promise<ComposeConfigResult> {
  const args = [...files.flatMap((file) => ["-f", file]), "config", "-q"];
  return new Promise((resolve) => {
    execFile(
      options.binary ?? "docker-compose",
      args,
      { cwd: options.cwd, env: options.env ?? process.env, timeout: 60_000 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (error === null) return resolve({ ok: true, code: 0, output });
        const code = typeof error.code === "number" ? error.code : null;
        resolve({ ok: false, code, output: output || error.message });
      },
    );
  });
}
