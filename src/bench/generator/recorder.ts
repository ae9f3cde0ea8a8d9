import {
  createLatencyHistogram,
  type LatencyHistogram,
  type LatencySummary,
  recordLatencyMs,
  summarizeLatency,
} from "../latency.js";
import type { RequestKind } from "../workload.js";
import type { GeneratorSeriesPoint } from "./messages.js";

/**
 * Collects what one generator run observed: latency (overall, per request kind, per second),
 * HTTP statuses, the `error.code` of error bodies, and transport errors. Used by both the
 * closed-loop and the open-loop driver, so their figures mean the same thing.
 */
export class Recorder {
  private readonly overall = createLatencyHistogram();
  private readonly byKind = new Map<RequestKind, LatencyHistogram>();
  private readonly interval = createLatencyHistogram();
  private readonly statuses: Record<string, number> = {};
  private readonly codes: Record<string, number> = {};
  private readonly transport: Record<string, number> = {};
  private readonly points: GeneratorSeriesPoint[] = [];
  private completedTotal = 0;
  private errorsTotal = 0;
  private intervalCompleted = 0;
  private intervalErrors = 0;
  private intervalStartedAt: number;
  private lastResponseAtMs = 0;

  /**
   * `deadlineMs`: the requests' timeout. A request that timed out counts in the latency
   * percentiles at it: it took at least that long, and leaving it out would flatter the tail.
   */
  constructor(
    private readonly deadlineMs: number,
    now: number = Date.now(),
  ) {
    this.intervalStartedAt = now;
  }

  /** An HTTP response; `body` is read for `error.code` only when the status is an error. */
  response(kind: RequestKind, status: number, latencyMs: number, body: string): void {
    recordLatencyMs(this.overall, latencyMs);
    recordLatencyMs(this.interval, latencyMs);
    let histogram = this.byKind.get(kind);
    if (!histogram) {
      histogram = createLatencyHistogram();
      this.byKind.set(kind, histogram);
    }
    recordLatencyMs(histogram, latencyMs);
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    if (status >= 400) {
      const code = errorCodeOf(body);
      this.codes[code] = (this.codes[code] ?? 0) + 1;
    }
    // Refusals (409 sold_out, …) are outcomes the scenario expects; errors are failures to serve.
    if (status >= 500) {
      this.errorsTotal++;
      this.intervalErrors++;
    }
    this.completedTotal++;
    this.intervalCompleted++;
    this.lastResponseAtMs = performance.now();
  }

  /** A request that got no HTTP answer. */
  transportError(cause: string): void {
    if (cause === "timeout") {
      recordLatencyMs(this.overall, this.deadlineMs);
      recordLatencyMs(this.interval, this.deadlineMs);
    }
    this.transport[cause] = (this.transport[cause] ?? 0) + 1;
    this.errorsTotal++;
    this.intervalErrors++;
  }

  /** Closes the current interval into a series point (called once a second). */
  closeInterval(now: number = Date.now()): void {
    const seconds = (now - this.intervalStartedAt) / 1000;
    if (seconds <= 0) return;
    const latency = summarizeLatency(this.interval);
    this.points.push({
      at: now,
      completed: this.intervalCompleted,
      errors: this.intervalErrors,
      requestsPerSecond: Math.round((this.intervalCompleted / seconds) * 10) / 10,
      p50: latency.p50,
      p90: latency.p90,
      p99: latency.p99,
      max: latency.max,
    });
    this.interval.reset();
    this.intervalCompleted = 0;
    this.intervalErrors = 0;
    this.intervalStartedAt = now;
  }

  get completed(): number {
    return this.completedTotal;
  }

  /** Transport errors plus 5xx answers. */
  get errors(): number {
    return this.errorsTotal;
  }

  /** performance.now() of the last response; 0 before the first. */
  get lastResponseAt(): number {
    return this.lastResponseAtMs;
  }

  latency(): LatencySummary {
    return summarizeLatency(this.overall);
  }

  latencyByKind(): Partial<Record<RequestKind, LatencySummary>> {
    return Object.fromEntries(
      [...this.byKind].map(([kind, histogram]) => [kind, summarizeLatency(histogram)]),
    );
  }

  statusCounts(): Record<string, number> {
    return { ...this.statuses };
  }

  errorCodes(): Record<string, number> {
    return { ...this.codes };
  }

  transportErrors(): Record<string, number> {
    return { ...this.transport };
  }

  series(): GeneratorSeriesPoint[] {
    return [...this.points];
  }
}

/** `error.code` of a Floodgate error body; a label that says why when there is none. */
export function errorCodeOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    const code = parsed?.error?.code;
    return typeof code === "string" ? code : "no_error_code";
  } catch {
    return "not_json";
  }
}
