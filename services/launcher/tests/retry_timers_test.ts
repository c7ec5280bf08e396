import { afterEach, describe, expect, it, vi } from "vitest";
import { RetryTimers } from "../src/retry_timers.ts";

describe("RetryTimers", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("doubles the wait up to the cap", () => {
    const timers = new RetryTimers(1000, 5000);
    expect([0, 1, 2, 3, 40].map((attempt) => timers.delayOf(attempt))).toEqual([
      1000, 2000, 4000, 5000, 5000,
    ]);
  });

  it("runs again while the task is not done or throws, then stops", async () => {
    vi.useFakeTimers();
    const timers = new RetryTimers(100, 1000);
    const attempts: number[] = [];
    const errors: unknown[] = [];
    timers.schedule(
      "vmi",
      async (attempt) => {
        attempts.push(attempt);
        if (attempt === 1) throw new Error("libvirt away");
        return attempt === 2;
      },
      (error) => errors.push(error),
    );
    // A second schedule of a waiting key changes nothing.
    timers.schedule(
      "vmi",
      async () => true,
      () => {},
    );
    await vi.advanceTimersByTimeAsync(100);
    expect(attempts).toEqual([0]);
    await vi.advanceTimersByTimeAsync(200);
    expect(attempts).toEqual([0, 1]);
    expect(String(errors[0])).toContain("libvirt away");
    await vi.advanceTimersByTimeAsync(400);
    expect(attempts).toEqual([0, 1, 2]);
    expect(timers.has("vmi")).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(attempts).toEqual([0, 1, 2]);
  });

  it("runs nothing after stop", async () => {
    vi.useFakeTimers();
    const timers = new RetryTimers(100, 1000);
    let runs = 0;
    const task = async () => {
      runs += 1;
      return false;
    };
    timers.schedule("a", task, () => {});
    timers.stop();
    timers.schedule("b", task, () => {});
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(0);
  });
});
