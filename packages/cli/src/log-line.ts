// `headroom up` shows the services' JSON log lines (pino) as text a person
// reads; up.log keeps them as they are, for tools.

const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

// Fields every line has, or that the prefix already says.
const HIDDEN = new Set(["level", "time", "msg", "service", "pid", "hostname", "v"]);

function value(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  if (v && typeof v === "object" && "message" in v)
    return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

/** `[name] {"level":30,"time":…,"msg":"ready","id":"x"}` → `[name] 03:07:15 INFO  ready id=x`; other lines unchanged. */
export function readableLogLine(line: string): string {
  const match = /^(\[[^\]]+\] )(\{.*\})\s*$/.exec(line);
  if (!match) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(match[2] as string);
  } catch {
    return line;
  }
  if (typeof entry.msg !== "string" || typeof entry.level !== "number") return line;
  const time =
    typeof entry.time === "number" ? new Date(entry.time).toISOString().slice(11, 19) : "--:--:--";
  const level = (LEVELS[entry.level] ?? String(entry.level)).padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, v]) => `${key}=${value(v)}`);
  return `${match[1]}${time} ${level} ${entry.msg}${fields.length ? ` ${fields.join(" ")}` : ""}`;
}
