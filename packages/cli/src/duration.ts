// Durations as kubectl takes them (--timeout 120s, 2m, 1m30s, 500ms, 1h).
import { CliError, EXIT_USAGE } from "./exit-codes.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/**
 * Parses a duration such as "120s", "2m", "1m30s", "1.5h" or "500ms" into
 * milliseconds; a bare number counts as seconds. Throws a CliError (exit 2)
 * naming `option` otherwise.
 */
export function parseDuration(text: string, option = "--timeout"): number {
  const value = text.trim();
  const refuse = () =>
    new CliError(
      `${option} ${JSON.stringify(text)} is not a duration: write e.g. 90s, 2m, 1m30s or 500ms`,
      EXIT_USAGE,
    );
  if (/^\d+(?:\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  if (value === "") throw refuse();
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < value.length) {
    const match = PART.exec(value);
    if (!match) throw refuse();
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  return Math.round(total);
}

/** "2m0s"-style rendering is noisy; messages say "120 s" or "1.5 s". */
export function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}
