// The stack of one CLI test file (useStack, guests under TCG unless told),
// and the CLI arguments that reach it as headroom's shared client.
import { rm } from "node:fs/promises";
import type { Stack } from "@headroom/test-stack";
import { type UseStackOptions, useStack } from "@headroom/test-stack/vitest";
import { cliStateWithLogin } from "@headroom/testing";
import { afterAll, beforeAll } from "vitest";

export interface CliStack {
  stack: Stack;
  /** `--server`, `--state-dir` and `-n NAMESPACE`: filled in beforeAll, used in tests. */
  cli: string[];
  /** The CLI's state directory (the shared client's login is in it); removed in afterAll. */
  cliState: string;
}

export function useCliStack(options: UseStackOptions & { namespace: string }): CliStack {
  const stack = useStack({ ...options, env: { HEADROOM_VIRT_TYPE: "qemu", ...options.env } });
  const handle: CliStack = { stack, cli: [], cliState: "" };
  beforeAll(async () => {
    handle.cliState = await cliStateWithLogin(stack.state.secrets);
    handle.cli.push("--server", stack.natsUrl, "--state-dir", handle.cliState);
    handle.cli.push("-n", options.namespace);
  });
  afterAll(async () => {
    if (handle.cliState) await rm(handle.cliState, { recursive: true, force: true });
  });
  return handle;
}
