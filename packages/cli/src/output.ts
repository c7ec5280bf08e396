// How commands print: kubectl-style tables, JSON, YAML, ages and sizes.
import { createRequire } from "node:module";
import { Option } from "commander";

// yaml is loaded when YAML is printed: loading it always would cost every
// command tens of milliseconds.
const require = createRequire(import.meta.url);

/** `-o` formats: a table by default; wide adds columns; json and yaml print objects. */
export type OutputFormat = "table" | "wide" | "json" | "yaml";

/** The `-o, --output` option, limited to the formats a command offers. */
export function outputOption(formats: readonly Exclude<OutputFormat, "table">[]): Option {
  return new Option("-o, --output <format>", `print ${formats.join(", ")} instead of a table`)
    .choices(formats)
    .default("table", "a table");
}

/** Columns padded to their widest cell, three spaces apart, as kubectl prints them. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]) {
  const widths = columnWidths(headers, rows);
  return `${[headers, ...rows].map((cells) => formatRow(cells, widths)).join("\n")}\n`;
}

/** The width of each column: its widest cell. */
export function columnWidths(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): number[] {
  return headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
}

/**
 * One table line with the given column widths (a longer cell pushes the rest
 * along), so rows printed later, as they come, line up with the first ones.
 */
export function formatRow(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, column) => cell.padEnd(widths[column] ?? 0))
    .join("   ")
    .trimEnd();
}

export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function formatYaml(value: unknown): string {
  const { stringify } = require("yaml") as typeof import("yaml");
  // Long strings (manifests, reasons) stay on one line, as kubectl prints them.
  return stringify(value, { lineWidth: 0 });
}

/** Several objects as one document, the way kubectl prints a list. */
export function listOf(items: readonly unknown[]): {
  apiVersion: "v1";
  kind: "List";
  items: unknown[];
} {
  return { apiVersion: "v1", kind: "List", items: [...items] };
}

/**
 * Prints objects as JSON or YAML: one object when the user named one, a List
 * otherwise (also when it holds one item), so scripts get one shape per call.
 */
export function formatObjects(
  format: "json" | "yaml",
  items: readonly unknown[],
  single: boolean,
): string {
  const value = single ? items[0] : listOf(items);
  return format === "json" ? formatJson(value) : formatYaml(value);
}

/** How long ago, as kubectl's AGE column says it: 45s, 3m20s, 5h, 12d, 2y. */
export function formatAge(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** Bytes in binary units: 512B, 1.5KiB, 20MiB, 1.2GiB. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits).replace(/\.0$/, "")}${units[unit]}`;
}

// C0 controls but tab and newline, DEL, and C1 controls: a terminal would act
// on them (move the cursor, change colours, set the title).
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Text from a guest or a user made safe to print: each control character
 * is shown as `\xNN` instead of being sent to the terminal.
 */
export function visible(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * A guest's console as it arrives, in chunks: UTF-8 decoded across chunk
 * boundaries, line ends (CRLF) kept as newlines, every other control
 * character made visible.
 */
export class ConsoleText {
  readonly #decoder = new TextDecoder("utf-8");
  #pendingCr = false;

  push(chunk: Uint8Array): string {
    let text = this.#decoder.decode(chunk, { stream: true });
    if (this.#pendingCr) text = `\r${text}`;
    // A CR at the end may be the first half of a CRLF: wait for the next chunk.
    this.#pendingCr = text.endsWith("\r");
    if (this.#pendingCr) text = text.slice(0, -1);
    return visible(text.replace(/\r\n/g, "\n"));
  }

  /** What is left at the end of the stream. */
  end(): string {
    const rest = (this.#pendingCr ? "\r" : "") + this.#decoder.decode();
    this.#pendingCr = false;
    return visible(rest);
  }
}
