import type { LatencySummary } from "../latency.js";
import type { GeneratorName, LoadModel, RunLength } from "../options.js";
import type { RequestKind, WorkloadSpec } from "../workload.js";

/** What the parent asks a generator process to do. */
export interface GeneratorJob {
  readonly generator: GeneratorName;
  /** Base URL of the target, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly model: LoadModel;
  readonly length: RunLength;
  readonly workload: WorkloadSpec;
  /** A request without an answer after this long counts as a timeout error. */
  readonly requestTimeoutMs: number;
  /** Hard stop for the whole run, whatever is still outstanding (every loop is bounded in time). */
  readonly deadlineMs: number;
}

/** One second of the run as the generator saw it. */
export interface GeneratorSeriesPoint {
  /** Epoch ms at the end of the interval (comparable with the target's telemetry `at`). */
  readonly at: number;
  readonly completed: number;
  /** Transport errors and 5xx answers in the interval. */
  readonly errors: number;
  readonly requestsPerSecond: number;
  /**
   * Latency percentiles (ms) of the responses completed in the interval; 0 when none; null when
   * the generator cannot tell (wrk gives its script no clock per request).
   */
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface GeneratorCpu {
  readonly userMs: number;
  readonly systemMs: number;
  readonly wallMs: number;
  /** CPU time ÷ wall time: 1 means the generator kept one core fully busy. */
  readonly coresUsed: number;
  /** All CPU the generator process used since it started (start-up and token signing included). */
  readonly processTotalMs: number;
}

export interface GeneratorResult {
  readonly model: LoadModel["kind"];
  /** Which generator sent the load (absent in results older than the choice). */
  readonly generator?: GeneratorName;
  /** Epoch ms of the first request. */
  readonly startedAt: number;
  /** First request sent → last response received. */
  readonly durationMs: number;
  readonly sent: number;
  /** Responses received (any status). */
  readonly completed: number;
  readonly throughputRps: number;
  readonly latencyMs: LatencySummary;
  readonly latencyByKindMs: Partial<Record<RequestKind, LatencySummary>>;
  /** Responses by HTTP status. */
  readonly statusCounts: Record<string, number>;
  /** `error.code` of the JSON error bodies, by code. */
  readonly errorCodes: Record<string, number>;
  /** Requests that got no HTTP answer (timeouts, resets, refused), by cause. */
  readonly transportErrors: Record<string, number>;
  readonly series: GeneratorSeriesPoint[];
  readonly acceptedOrderIds: string[];
  readonly cpu: GeneratorCpu;
  /** Open model only: how late requests left compared with their intended send time. */
  readonly sendLagMs: LatencySummary | null;
  /** True when the hard deadline stopped the run before it finished. */
  readonly truncated: boolean;
}

export interface GeneratorProgress {
  readonly elapsedMs: number;
  readonly completed: number;
  readonly errors: number;
}

export type ParentMessage = { readonly type: "run"; readonly job: GeneratorJob };

export type GeneratorMessage =
  /** Sent as the first request goes out (start-up and token signing are done). */
  | { readonly type: "started" }
  | { readonly type: "progress"; readonly progress: GeneratorProgress }
  | { readonly type: "result"; readonly result: GeneratorResult }
  | { readonly type: "failed"; readonly message: string };
