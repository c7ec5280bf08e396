import { describe, expect, it } from "vitest";
import { SharedLock } from "../src/shared_lock.ts";

describe("SharedLock", () => {
  it("lets many share it, and runs the exclusive work once they all let go", async () => {
    const lock = new SharedLock();
    const events: string[] = [];
    const first = await lock.shared();
    const second = await lock.shared();
    const pruning = lock.exclusive(async () => {
      events.push("exclusive");
    });
    await Promise.resolve();
    first();
    events.push("first released");
    await Promise.resolve();
    expect(events).toEqual(["first released"]);
    second();
    events.push("second released");
    await pruning;
    expect(events).toEqual(["first released", "second released", "exclusive"]);
  });

  it("makes holders that come after a waiting exclusive wait for it", async () => {
    const lock = new SharedLock();
    const events: string[] = [];
    const holder = await lock.shared();
    const pruning = lock.exclusive(async () => {
      events.push("exclusive");
    });
    const later = lock.shared().then((release) => {
      events.push("later");
      release();
    });
    holder();
    await Promise.all([pruning, later]);
    expect(events).toEqual(["exclusive", "later"]);
  });

  it("lets go once however often release is called, and after a failing exclusive", async () => {
    const lock = new SharedLock();
    const release = await lock.shared();
    release();
    release();
    await expect(
      lock.exclusive(async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const again = await lock.shared();
    again();
    await expect(lock.exclusive(async () => "ran")).resolves.toBe("ran");
  });
});
