import { describe, expect, it } from "vitest";
import { KeyedQueue } from "../src/mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("KeyedQueue", () => {
  it("runs tasks of one key one at a time, in order", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      queue.run("a", task("1", 30)),
      queue.run("a", task("2", 1)),
    ]);
    expect(results).toEqual(["1", "2"]);
    expect(log).toEqual(["start 1", "end 1", "start 2", "end 2"]);
  });

  it("runs different keys side by side", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    await Promise.all([
      queue.run("a", async () => {
        log.push("start a");
        await sleep(30);
        log.push("end a");
      }),
      queue.run("b", async () => {
        log.push("start b");
        log.push("end b");
      }),
    ]);
    expect(log.indexOf("end b")).toBeLessThan(log.indexOf("end a"));
  });

  it("a failing task does not stop the next one, and keys are forgotten when idle", async () => {
    const queue = new KeyedQueue();
    const failed = queue.run("a", async () => {
      throw new Error("boom");
    });
    const next = queue.run("a", async () => "ran");
    await expect(failed).rejects.toThrow("boom");
    expect(await next).toBe("ran");
    await sleep(0);
    expect(queue.busyKeys).toBe(0);
  });
});
