import { describe, expect, it } from "vitest";
import { imageProgressOf } from "../src/progress-bar.ts";

describe("imageProgressOf", () => {
  it("reads how far a host got with an image from a Scheduled status's reason", () => {
    expect(
      imageProgressOf("pulling image quay.io/lab/guest:1 to node-1: 96.0 MiB of 512.0 MiB"),
    ).toEqual({
      label: "pulling image quay.io/lab/guest:1 to node-1",
      done: 96 * 1024 * 1024,
      total: 512 * 1024 * 1024,
    });
    expect(imageProgressOf("fetching image lab/guest:1 to h: 0.5 MiB of 1.0 MiB")?.done).toBe(
      512 * 1024,
    );
  });

  it("leaves any other reason alone", () => {
    expect(imageProgressOf("waiting for a host")).toBeUndefined();
    expect(imageProgressOf("pulling image x to h: many MiB of 1.0 MiB")).toBeUndefined();
  });
});
