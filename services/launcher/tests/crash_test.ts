// Crashes: VMIs created through the validator API while the validator, the
// composer and the launcher are killed (SIGKILL) at seeded random moments and
// restarted; every accepted VMI must end Running exactly once.
import { runCrashBatch, uniqueNamespace } from "@headroom/test-stack";
import { useStack } from "@headroom/test-stack/vitest";
import { describe, expect, it } from "vitest";

describe("crashes of the services", () => {
  const stack = useStack({ namespace: uniqueNamespace("crash") });

  it("loses nothing when services are killed while VMIs are created", async () => {
    const seed = Number(process.env.HEADROOM_CRASH_SEED) || Math.floor(Math.random() * 2 ** 31);
    console.log(`crash test seed ${seed} (HEADROOM_CRASH_SEED=${seed} replays it)`);
    const report = await runCrashBatch(stack, {
      vmis: 6,
      seed,
      maxKills: 5,
      settleTimeoutMs: 100_000,
      log: (line) => console.log(line),
    });
    console.log(JSON.stringify({ ...report, outcomes: undefined }));
    expect(report.problems).toEqual([]);
    expect(report.accepted).toBe(6);
    expect(report.lost).toEqual([]);
    expect(Object.values(report.kills).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 300_000);
});
