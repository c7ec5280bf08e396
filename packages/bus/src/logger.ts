import { createRequire } from "node:module";
import type { Logger, pino as Pino } from "pino";

export type { Logger };

// pino (some thirty modules) is loaded by the first createLogger: the CLI
// imports this package to talk to NATS and never logs, and every command
// would pay for loading it.
const require = createRequire(import.meta.url);

export interface LoggerOptions {
  /** pino level; default HEADROOM_LOG_LEVEL or "info". */
  level?: string;
}

/**
 * JSON lines on stdout, one logger per service ("service" field). Pipe through
 * `npx pino-pretty` to read them comfortably.
 */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const { pino } = require("pino") as { pino: typeof Pino };
  return pino({
    level: options.level ?? process.env.HEADROOM_LOG_LEVEL ?? "info",
    base: { service, pid: process.pid },
  });
}
