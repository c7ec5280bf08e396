import { describe, expect, it } from "vitest";
import {
  compareQuantities,
  formatQuantity,
  parseQuantity,
  type Quantity,
  quantitiesEqual,
  toBytes,
  toInteger,
} from "../src/mod.ts";

function value(input: unknown): Quantity {
  const parsed = parseQuantity(input);
  if (!parsed.ok) throw new Error(`expected ${String(input)} to parse: ${parsed.reason}`);
  return parsed.value;
}

function exact(input: unknown): string {
  return formatQuantity(value(input));
}

describe("parseQuantity: plain numbers", () => {
  it.each([
    ["5", "5"],
    ["0", "0"],
    ["32", "32"],
    ["+7", "7"],
    ["-2", "-2"],
    ["-0", "0"],
    ["1.2", "1.2"],
    ["5.", "5"],
    [".5", "0.5"],
    ["0.125", "0.125"],
    ["007", "7"],
    ["123456789012345678901234567890", "123456789012345678901234567890"],
  ])("%s is %s", (input, expected) => {
    expect(exact(input)).toBe(expected);
  });

  it.each([
    [5, "5"],
    [0, "0"],
    [-2, "-2"],
    [1.2, "1.2"],
    [0.1, "0.1"],
    [1e21, "1000000000000000000000"],
    [1e-7, "0.0000001"],
  ])("the number %s is exactly %s", (input, expected) => {
    expect(exact(input)).toBe(expected);
  });

  it("takes bigints", () => {
    expect(exact(12345678901234567890n)).toBe("12345678901234567890");
  });
});

describe("parseQuantity: decimal SI suffixes", () => {
  it.each([
    ["10000m", "10"],
    ["1500m", "1.5"],
    ["1m", "0.001"],
    ["1u", "0.000001"],
    ["1n", "0.000000001"],
    ["1500000000n", "1.5"],
    ["250000u", "0.25"],
    ["1.G", "1000000000"],
    ["1k", "1000"],
    ["1M", "1000000"],
    ["1G", "1000000000"],
    ["1T", "1000000000000"],
    ["1P", "1000000000000000"],
    ["1E", "1000000000000000000"],
    ["2.5G", "2500000000"],
    ["-3k", "-3000"],
  ])("%s is exactly %s", (input, expected) => {
    expect(exact(input)).toBe(expected);
  });
});

describe("parseQuantity: binary SI suffixes", () => {
  it.each([
    ["1Ki", 1024n],
    ["1Mi", 1024n ** 2n],
    ["64Mi", 64n * 1024n ** 2n],
    ["1Gi", 1024n ** 3n],
    ["1.5Gi", 1610612736n],
    ["1Ti", 1024n ** 4n],
    ["1Pi", 1024n ** 5n],
    ["1Ei", 1024n ** 6n],
    ["0.5Ki", 512n],
  ])("%s is exactly %s", (input, expected) => {
    expect(toInteger(value(input))).toBe(expected);
  });

  it("keeps fractions a binary suffix does not cancel", () => {
    expect(exact("0.1Ki")).toBe("102.4");
    expect(exact("0.3Ki")).toBe("307.2");
  });
});

describe("parseQuantity: decimal exponents", () => {
  it.each([
    ["1e3", "1000"],
    ["1E3", "1000"],
    ["1e+3", "1000"],
    ["1e-3", "0.001"],
    ["2.5e2", "250"],
    ["12e0", "12"],
  ])("%s is exactly %s", (input, expected) => {
    expect(exact(input)).toBe(expected);
  });

  it("refuses exponents beyond ±64", () => {
    expect(parseQuantity("1e65")).toMatchObject({ ok: false });
    expect(parseQuantity("1e-65")).toMatchObject({ ok: false });
    expect(parseQuantity("1e64").ok).toBe(true);
  });
});

describe("parseQuantity: invalid values", () => {
  it.each([
    [""],
    [" 5"],
    ["5 "],
    ["abc"],
    ["5x"],
    ["1e"],
    ["1e1.5"],
    ["1KI"],
    ["1ki"],
    ["1K"],
    ["1mi"],
    ["."],
    ["1.2.3"],
    ["--1"],
    ["1 Gi"],
    ["Gi"],
    ["0x10"],
    ["1_000"],
    ["١"],
  ])("%j is not a quantity", (input) => {
    const parsed = parseQuantity(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(/quantity/);
  });

  it.each([
    [true, "a boolean"],
    [null, "null"],
    [undefined, "undefined"],
    [{}, "an object"],
    [[5], "a list"],
  ])("%j is refused as %s", (input, kind) => {
    expect(parseQuantity(input)).toEqual({
      ok: false,
      reason: `a quantity is a number or a string, not ${kind}`,
    });
  });

  it.each([[Number.NaN], [Number.POSITIVE_INFINITY], [Number.NEGATIVE_INFINITY]])(
    "%s is refused",
    (input) => {
      expect(parseQuantity(input).ok).toBe(false);
    },
  );

  it("refuses strings longer than 64 characters without parsing them", () => {
    expect(parseQuantity("1".repeat(64)).ok).toBe(true);
    expect(parseQuantity("1".repeat(65))).toEqual({
      ok: false,
      reason: "a quantity is at most 64 characters",
    });
  });
});

describe("toInteger", () => {
  it("gives whole numbers", () => {
    expect(toInteger(value("10000m"))).toBe(10n);
    expect(toInteger(value(5))).toBe(5n);
    expect(toInteger(value("-2"))).toBe(-2n);
  });

  it("gives null for fractions", () => {
    expect(toInteger(value("1.2"))).toBeNull();
    expect(toInteger(value("1500m"))).toBeNull();
    expect(toInteger(value(0.5))).toBeNull();
  });
});

describe("toBytes", () => {
  it.each([
    ["128Mi", 134217728n],
    ["1Gi", 1073741824n],
    ["1.5Gi", 1610612736n],
    ["1G", 1000000000n],
    [4096, 4096n],
    ["0", 0n],
  ])("%s is %s bytes", (input, expected) => {
    expect(toBytes(input)).toEqual({ ok: true, bytes: expected });
  });

  it("refuses fractions of a byte", () => {
    expect(toBytes("1500m")).toEqual({
      ok: false,
      reason: '"1500m" is not a whole number of bytes',
    });
    expect(toBytes("0.1Ki")).toMatchObject({ ok: false });
  });

  it("refuses negative sizes", () => {
    expect(toBytes("-1Mi")).toEqual({ ok: false, reason: '"-1Mi" is negative' });
  });

  it("passes on parse failures", () => {
    expect(toBytes("lots")).toEqual({ ok: false, reason: '"lots" is not a quantity' });
  });
});

describe("comparing", () => {
  it("compares exactly across notations", () => {
    expect(quantitiesEqual(value("1Gi"), value("1024Mi"))).toBe(true);
    expect(quantitiesEqual(value("10000m"), value(10))).toBe(true);
    expect(quantitiesEqual(value("1e3"), value("1k"))).toBe(true);
    expect(quantitiesEqual(value("1G"), value("1Gi"))).toBe(false);
    expect(compareQuantities(value("1G"), value("1Gi"))).toBe(-1);
    expect(compareQuantities(value("1Gi"), value("1G"))).toBe(1);
    expect(compareQuantities(value("-1"), value("1m"))).toBe(-1);
    expect(compareQuantities(value("0.1Ki"), value("102.4"))).toBe(0);
  });
});

describe("formatQuantity", () => {
  it("prints terminating fractions as decimals", () => {
    expect(exact("-1500m")).toBe("-1.5");
    expect(exact("1m")).toBe("0.001");
  });

  it("prints other rationals as n/d", () => {
    expect(formatQuantity({ numerator: 1n, denominator: 3n })).toBe("1/3");
  });
});
