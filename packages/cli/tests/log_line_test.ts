import { describe, expect, it } from "vitest";
import { readableLogLine } from "../src/log-line.ts";

describe("readableLogLine", () => {
  it("turns a pino line into time, level, message and fields", () => {
    const line =
      '[launcher] {"level":40,"time":1795835227791,"service":"headroom-launcher","pid":7,"vmi":"default/web","reason":"no room left","msg":"launch failed"}';
    expect(readableLogLine(line)).toBe(
      '[launcher] 03:07:07 WARN  launch failed vmi=default/web reason="no room left"',
    );
  });

  it("shows an error by its message", () => {
    const line =
      '[validator] {"level":50,"time":0,"err":{"type":"Error","message":"boom"},"msg":"failed"}';
    expect(readableLogLine(line)).toBe('[validator] 00:00:00 ERROR failed err="boom"');
  });

  it("leaves other lines as they are", () => {
    for (const line of [
      "[nats] [123] 2026/11/28 03:07:36 [INF] Server is ready",
      "[supervisor] launcher exited with code 1; restarting in 500 ms",
      '[x] {"not":"pino"}',
      "[x] {broken",
    ])
      expect(readableLogLine(line)).toBe(line);
  });
});
