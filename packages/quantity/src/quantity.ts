/**
 * Kubernetes resource quantities ("5", "10000m", "1.5Gi", "1e3"), parsed exactly.
 *
 * Grammar (from k8s.io/apimachinery/pkg/api/resource):
 *   <quantity>        ::= <signedNumber><suffix>
 *   <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
 *   <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
 *   <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
 *   <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>
 *
 * Values are exact rationals of bigints, so "10000m" is exactly 10 and
 * "1.5Gi" is exactly 1610612736: no floating-point rounding anywhere.
 */

/** An exact rational number: numerator / denominator, reduced, denominator > 0. */
export interface Quantity {
  readonly numerator: bigint;
  readonly denominator: bigint;
}

export type ParseResult = { ok: true; value: Quantity } | { ok: false; reason: string };

export type BytesResult = { ok: true; bytes: bigint } | { ok: false; reason: string };

/** Longer strings are refused before parsing; no real quantity comes close. */
export const MAX_QUANTITY_LENGTH = 64;

/**
 * Bound on the decimal exponent ("1e<n>") so that a tiny string cannot ask for
 * a number with millions of digits. Kubernetes itself stores far smaller values.
 */
export const MAX_EXPONENT = 64;

const QUANTITY_PATTERN =
  /^([+-])?(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;

const BINARY_SHIFT: Record<string, bigint> = {
  Ki: 10n,
  Mi: 20n,
  Gi: 30n,
  Ti: 40n,
  Pi: 50n,
  Ei: 60n,
};

const DECIMAL_EXPONENT: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/**
 * Parses a quantity given as a string, a JSON/YAML number, or a bigint.
 * Never throws: a value that is not a quantity yields `{ ok: false, reason }`.
 */
export function parseQuantity(value: unknown): ParseResult {
  if (typeof value === "bigint") return { ok: true, value: rational(value, 1n) };
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { ok: false, reason: `${value} is not a finite number` };
    // String(n) is the shortest decimal that round-trips, i.e. what the user wrote.
    return parseQuantityString(String(value));
  }
  if (typeof value === "string") return parseQuantityString(value);
  return { ok: false, reason: `a quantity is a number or a string, not ${describeType(value)}` };
}

function parseQuantityString(text: string): ParseResult {
  if (text.length === 0) return { ok: false, reason: "an empty string is not a quantity" };
  if (text.length > MAX_QUANTITY_LENGTH) {
    return { ok: false, reason: `a quantity is at most ${MAX_QUANTITY_LENGTH} characters` };
  }
  const match = QUANTITY_PATTERN.exec(text);
  if (!match) return { ok: false, reason: `${JSON.stringify(text)} is not a quantity` };
  const [, sign, number = "", binary, exponent, decimal] = match;

  const [whole = "", fraction = ""] = number.split(".");
  let numerator = BigInt(`${whole}${fraction}` || "0");
  let denominator = 10n ** BigInt(fraction.length);
  if (sign === "-") numerator = -numerator;

  if (binary !== undefined) {
    numerator <<= BINARY_SHIFT[binary] ?? 0n;
  } else {
    const power =
      exponent !== undefined ? Number(exponent) : (DECIMAL_EXPONENT[decimal ?? ""] ?? 0);
    if (Math.abs(power) > MAX_EXPONENT) {
      return {
        ok: false,
        reason: `the exponent of ${JSON.stringify(text)} is beyond ±${MAX_EXPONENT}`,
      };
    }
    if (power >= 0) numerator *= 10n ** BigInt(power);
    else denominator *= 10n ** BigInt(-power);
  }
  return { ok: true, value: rational(numerator, denominator) };
}

/** The quantity as a bigint when it is a whole number, otherwise null. */
export function toInteger(quantity: Quantity): bigint | null {
  return quantity.denominator === 1n ? quantity.numerator : null;
}

/** Parses a byte count: a quantity that is a whole, non-negative number. */
export function toBytes(value: unknown): BytesResult {
  const parsed = parseQuantity(value);
  if (!parsed.ok) return parsed;
  const bytes = toInteger(parsed.value);
  if (bytes === null)
    return { ok: false, reason: `${display(value)} is not a whole number of bytes` };
  if (bytes < 0n) return { ok: false, reason: `${display(value)} is negative` };
  return { ok: true, bytes };
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  // Denominators are positive, so cross-multiplying keeps the order.
  const left = a.numerator * b.denominator;
  const right = b.numerator * a.denominator;
  return left < right ? -1 : left > right ? 1 : 0;
}

export function quantitiesEqual(a: Quantity, b: Quantity): boolean {
  return compareQuantities(a, b) === 0;
}

/** The exact value in plain decimal notation when it has one ("10", "0.5"), else "n/d". */
export function formatQuantity(quantity: Quantity): string {
  const { numerator, denominator } = quantity;
  if (denominator === 1n) return numerator.toString();
  let twos = 0;
  let fives = 0;
  let rest = denominator;
  while (rest % 2n === 0n) {
    rest /= 2n;
    twos++;
  }
  while (rest % 5n === 0n) {
    rest /= 5n;
    fives++;
  }
  if (rest !== 1n) return `${numerator}/${denominator}`;
  const places = Math.max(twos, fives);
  const scaled = (numerator * 10n ** BigInt(places)) / denominator;
  const digits = (scaled < 0n ? -scaled : scaled).toString().padStart(places + 1, "0");
  const sign = scaled < 0n ? "-" : "";
  return `${sign}${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

function rational(numerator: bigint, denominator: bigint): Quantity {
  const divisor = gcd(numerator < 0n ? -numerator : numerator, denominator);
  return { numerator: numerator / divisor, denominator: denominator / divisor };
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a === 0n ? 1n : a;
}

function describeType(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function display(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
