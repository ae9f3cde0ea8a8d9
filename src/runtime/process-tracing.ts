import type { Config } from "../platform/config/load-config.js";
import { type RunningTracing, startTracing } from "../platform/observability/tracing.js";

/**
 * Starts OpenTelemetry for this process when FLOODGATE_OTLP_URL is set; otherwise nothing is
 * started and every instrumented place stays a boolean check. Called before anything is built, so
 * the HTTP server, the service clients and the stream pick it up.
 */
export function startProcessTracing(config: Config, processName: string): RunningTracing | undefined {
  if (!config.otlpUrl) return undefined;
  return startTracing({
    serviceName: `floodgate-${processName}`,
    otlpUrl: config.otlpUrl,
    sampleRatio: config.traceSamplePercent / 100,
  });
}
