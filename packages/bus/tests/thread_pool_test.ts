import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { defaultLauncherConcurrency, threadPoolEnv } from "../src/mod.ts";

describe("threadPoolEnv", () => {
  it("gives the launcher a thread per VMI it works on at once, and 4 more", () => {
    expect(defaultLauncherConcurrency()).toBe(Math.max(4, 4 * availableParallelism()));
    expect(threadPoolEnv("launcher", {})).toEqual({
      UV_THREADPOOL_SIZE: String(defaultLauncherConcurrency() + 4),
    });
    expect(threadPoolEnv("launcher", { HEADROOM_LAUNCHER_CONCURRENCY: "20" })).toEqual({
      UV_THREADPOOL_SIZE: "24",
    });
  });

  it("keeps a size already set, stays within libuv's 1024, and leaves other services alone", () => {
    expect(threadPoolEnv("launcher", { UV_THREADPOOL_SIZE: "7" })).toEqual({});
    expect(threadPoolEnv("launcher", { HEADROOM_LAUNCHER_CONCURRENCY: "5000" })).toEqual({
      UV_THREADPOOL_SIZE: "1024",
    });
    expect(threadPoolEnv("validator", {})).toEqual({});
    expect(threadPoolEnv("domain-composer", {})).toEqual({});
  });
});
