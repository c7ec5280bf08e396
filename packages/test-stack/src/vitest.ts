// @headroom/test-stack/vitest: the stack of one test file, started in beforeAll and stopped in
// afterAll, which then checks that nats-server refused nothing. Import it from tests only: it
// registers vitest hooks.
import { afterAll, beforeAll, expect } from "vitest";
import { type Stack, type StackOptions, startStack, uniqueNamespace } from "./stack.ts";

export interface UseStackOptions extends StackOptions {
  /**
   * nats-server log lines that fail the file in afterAll (default / Violation /: every
   * refusal, so with logins each process did all its work within its permissions).
   */
  refusals?: RegExp;
  /** beforeAll's timeout (default 300 s: the tiny guest, and the launcher's KVM check). */
  startTimeoutMs?: number;
}

/**
 * The stack of this test file (namespace e2e-<hex> unless given). What it returns stands for
 * the stack started in beforeAll: its namespace is known at once, anything else is used in
 * tests (or hooks registered after this call).
 */
export function useStack(options: UseStackOptions = {}): Stack {
  const { refusals = / Violation /, startTimeoutMs = 300_000, ...stackOptions } = options;
  const namespace = stackOptions.namespace ?? uniqueNamespace("e2e");
  let started: Stack | undefined;

  beforeAll(async () => {
    started = await startStack({ ...stackOptions, namespace });
  }, startTimeoutMs);

  afterAll(async () => {
    if (!started) return;
    await started.stop();
    expect(started.violations(refusals)).toEqual([]);
  }, 120_000);

  return new Proxy({ namespace } as Stack, {
    get(known, key) {
      if (key === "namespace") return known.namespace;
      if (!started) throw new Error(`the stack is started in beforeAll (asked for ${String(key)})`);
      const value = Reflect.get(started, key);
      return typeof value === "function" ? value.bind(started) : value;
    },
  });
}
