import { describe, expect, it } from "vitest";
import {
  EXIT_CODES_HELP,
  EXIT_INVALID,
  EXIT_OK,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  exitCodeForApiError,
} from "../src/exit-codes.ts";

describe("exit codes", () => {
  it("are 0, 1, 2 and 3", () => {
    expect([EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_UNREACHABLE]).toEqual([0, 1, 2, 3]);
  });

  it("map an absent or silent service to 3", () => {
    expect(exitCodeForApiError("UNAVAILABLE")).toBe(3);
    expect(exitCodeForApiError("TIMEOUT")).toBe(3);
  });

  it.each(["BAD_REQUEST", "NOT_FOUND", "CONFLICT", "PAYLOAD_TOO_LARGE", "INTERNAL", "WHATEVER"])(
    "map the server's %s to 1",
    (code) => {
      expect(exitCodeForApiError(code)).toBe(1);
    },
  );

  it("are all listed in the help text", () => {
    for (const code of [0, 1, 2, 3]) expect(EXIT_CODES_HELP).toMatch(new RegExp(`\\n  ${code}  `));
  });
});
