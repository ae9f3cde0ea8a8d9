import { type Logger, pino } from "pino";

export type { Logger };

/** Structured JSON logs on stdout; one child logger per service carries `service` on every line. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}
