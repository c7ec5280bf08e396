import { type Logger, pino } from "pino";

export type { Logger };

export interface LoggerOptions {
  /** pino level; default HEADROOM_LOG_LEVEL or "info". */
  level?: string;
}

/**
 * JSON lines on stdout, one logger per service ("service" field). Pipe through
 * `npx pino-pretty` to read them comfortably.
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino({
    level: options.level ?? process.env.HEADROOM_LOG_LEVEL ?? "info",
    base: { service, pid: process.pid },
  });
}
