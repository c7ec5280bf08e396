import { DEFAULT_NATS_URL as BUS_DEFAULT_NATS_URL } from "@headroom/bus";
import { describe, expect, it } from "vitest";
import { DEFAULT_NATS_URL } from "../src/globals.ts";

describe("global options", () => {
  it("default --server to the bus's own default, which the CLI repeats to load no NATS code", () => {
    expect(DEFAULT_NATS_URL).toBe(BUS_DEFAULT_NATS_URL);
  });
});
