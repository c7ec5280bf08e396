import { JetStreamApiError } from "@nats-io/jetstream";
import { NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { isTransientNatsError, jetStreamReplicas, retryTransient } from "../src/mod.ts";

describe("isTransientNatsError", () => {
  it("takes timeouts, no responders and JetStream's 503 and 504 for passing, through causes", () => {
    expect(isTransientNatsError(new TimeoutError())).toBe(true);
    expect(
      isTransientNatsError(
        new Error("jetstream is not enabled", {
          cause: new RequestError("no responders", { cause: new NoRespondersError("$KV.x.y") }),
        }),
      ),
    ).toBe(true);
    const busy = new JetStreamApiError({ code: 503, err_code: 10008, description: "no leader" });
    expect(isTransientNatsError(busy)).toBe(true);
  });

  it("takes nothing else for passing", () => {
    expect(isTransientNatsError(new Error("timeout"))).toBe(false);
    const missing = new JetStreamApiError({ code: 404, err_code: 10059, description: "not found" });
    expect(isTransientNatsError(missing)).toBe(false);
    expect(isTransientNatsError("timeout")).toBe(false);
  });
});

describe("retryTransient", () => {
  it("runs the work again while it fails for a passing reason", async () => {
    let calls = 0;
    const value = await retryTransient(async () => {
      calls++;
      if (calls < 3) throw new TimeoutError();
      return "done";
    });
    expect(value).toBe("done");
    expect(calls).toBe(3);
  });

  it("throws any other error at once, and a passing one after its time", async () => {
    let calls = 0;
    const failing = retryTransient(async () => {
      calls++;
      throw new Error("bad request");
    });
    await expect(failing).rejects.toThrow("bad request");
    expect(calls).toBe(1);
    await expect(
      retryTransient(async () => {
        throw new TimeoutError();
      }, 300),
    ).rejects.toBeInstanceOf(TimeoutError);
  });
});

describe("jetStreamReplicas", () => {
  it("is 1 by default, HEADROOM_NATS_REPLICAS from 1 to 5 otherwise", () => {
    expect(jetStreamReplicas({})).toBe(1);
    expect(jetStreamReplicas({ HEADROOM_NATS_REPLICAS: "3" })).toBe(3);
    expect(() => jetStreamReplicas({ HEADROOM_NATS_REPLICAS: "7" })).toThrow(
      "HEADROOM_NATS_REPLICAS=7 must be a whole number from 1 to 5",
    );
    expect(() => jetStreamReplicas({ HEADROOM_NATS_REPLICAS: "two" })).toThrow(/two/);
  });
});
