import { describe, expect, it } from "vitest";
import { formatSeconds, parseDuration } from "../src/duration.ts";
import { CliError } from "../src/exit-codes.ts";

describe("parseDuration", () => {
  it.each([
    ["120s", 120_000],
    ["2m", 120_000],
    ["1m30s", 90_000],
    ["1h", 3_600_000],
    ["1.5h", 5_400_000],
    ["500ms", 500],
    ["1m500ms", 60_500],
    ["90", 90_000],
    ["0", 0],
    [" 45s ", 45_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "s", "5x", "-5s", "5 s", "1m30", "5mss", "1d", "abc"])(
    "refuses %j as a usage error naming the option",
    (text) => {
      let error: unknown;
      try {
        parseDuration(text, "--timeout");
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(2);
      expect((error as CliError).message).toMatch(/^--timeout .* is not a duration/);
    },
  );
});

describe("formatSeconds", () => {
  it("says whole and fractional seconds", () => {
    expect(formatSeconds(120_000)).toBe("120 s");
    expect(formatSeconds(1500)).toBe("1.5 s");
  });
});
