/** Small helpers that put values into error messages. */

/** Describes a value briefly, for "must be X, not Y". */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "boolean") return String(value);
  return `${typeof value === "string" ? "the string" : "the number"} ${show(value)}`;
}

const SHOWN_LENGTH = 80;

/** A value as JSON, cut short so an error message stays one readable line. */
export function show(value: unknown): string {
  let text: string;
  try {
    // A bigint (YAML's intAsBigInt, or a caller's own value) has no JSON form.
    text =
      JSON.stringify(value, (_key, item) => (typeof item === "bigint" ? `${item}` : item)) ??
      String(value);
  } catch {
    // Nested too deep to print (JSON.stringify ran out of stack): say what it is instead.
    return describeValue(value);
  }
  return text.length > SHOWN_LENGTH ? `${text.slice(0, SHOWN_LENGTH)}…` : text;
}
