import { type DestinationStream, type Logger, pino } from "pino";
import { activeTraceIds } from "./tracing.js";

export type { Logger };

/**
 * Structured JSON logs on stdout; one child logger per service carries `service` on every line.
 * While tracing is on, a line written inside a span carries its `trace_id` and `span_id`, so a
 * trace and its log lines can be found from each other.
 */
export function createLogger(
  level: string,
  base: Record<string, unknown> = {},
  destination?: DestinationStream,
): Logger {
  const options = {
    level,
    base: { pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    // A new object every time: pino merges each line's fields into what the mixin returns
    // (Object.assign), so a shared constant would collect every field ever logged.
    mixin: () => activeTraceIds() ?? {},
  };
  return destination ? pino(options, destination) : pino(options);
}
