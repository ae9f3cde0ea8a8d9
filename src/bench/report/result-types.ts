import type { TelemetrySample } from "../../platform/observability/telemetry.js";
import type { CpuShares } from "../cpu-accounting.js";
import type { CpuProfileSummary } from "../cpu-profile.js";
import type { BenchEnvironment } from "../environment.js";
import type { DrainOutcome } from "../flash-sale-audit.js";
import type { GeneratorResult } from "../generator/messages.js";
import type { InvariantResult } from "../invariants.js";
import type { LatencySummary } from "../latency.js";
import type { BenchOptions, LoadModel, Scenario, TargetName } from "../options.js";
import type { ChildExit } from "../target/child-process.js";
import type { CleanupOutcome } from "../target/run-cleanup.js";
import type { WarmUpRecord } from "../warm-up.js";

/** The generator's figures without the accepted ids (checked by the audit, too many to keep). */
export type GeneratorFigures = Omit<GeneratorResult, "acceptedOrderIds"> & {
  readonly acceptedOrders: number;
};

/** One measured run of one target. */
export interface RunRecord {
  readonly target: TargetName;
  /** 1-based index of the repetition (--runs). */
  readonly run: number;
  readonly startedAt: string;
  readonly throughputRps: number;
  readonly latencyMs: LatencySummary;
  readonly generator: GeneratorFigures;
  /** The target's own 500 ms telemetry; null for baselines (which have none). */
  readonly serverSeries: TelemetrySample[] | null;
  readonly seeding: { readonly sku: string; readonly products: number; readonly warmUpReads: number } | null;
  /** Where the machine's CPU went while the generator ran: target, generator, bench, others. */
  readonly cpu: CpuShares;
  /** The unmeasured requests sent first (--warmup); null when none. */
  readonly warmUp: WarmUpRecord | null;
  readonly drain: DrainOutcome | null;
  readonly invariants: InvariantResult[] | null;
  /**
   * The target's main-thread CPU profile (--cpu-prof): summarised over the load and drain (the
   * hot path) and over the whole process (start-up, seeding and the audit included).
   */
  readonly cpuProfile: {
    readonly file: string;
    readonly loadWindow: CpuProfileSummary;
    readonly wholeProcess: CpuProfileSummary;
  } | null;
  /** How the target stopped (null when the bench did not start it). */
  readonly targetExit: ChildExit | null;
  /**
   * The run's own names on shared servers (the prefixes the bench gave the target) and what was
   * removed after it; absent or null when the run used no shared server.
   */
  readonly sharedState?: {
    readonly prefixes: Readonly<Record<string, string>>;
    readonly cleanup: CleanupOutcome;
  } | null;
}

/**
 * --at-fraction-of-max: the closed-model runs that found Floodgate's maximum just before the
 * measured (open-model) runs, and the rate derived from it.
 */
export interface Calibration {
  readonly fraction: number;
  /** The closed model the maximum was measured with. */
  readonly model: LoadModel;
  readonly runs: RunRecord[];
  /** Median req/s of those runs: the maximum. */
  readonly maxRps: number;
  /** fraction × maxRps, rounded: the open model's rate. */
  readonly rate: number;
}

/** Medians over a target's runs. */
export interface TargetSummary {
  readonly target: TargetName;
  readonly runs: number;
  readonly throughputRps: number | null;
  readonly latencyMs: {
    readonly p50: number | null;
    readonly p90: number | null;
    readonly p99: number | null;
    readonly p999: number | null;
    readonly max: number | null;
  };
  /** Transport errors and 5xx answers per run. */
  readonly errors: number | null;
  readonly generatorCoresUsed: number | null;
  /** The target's CPU while loaded, in cores; null when the bench did not start it. */
  readonly targetCores: number | null;
  /** Other processes' CPU during the runs, in cores: the noise on a shared machine. */
  readonly otherCores: number | null;
  /** The servers the target works through (Redis, NATS, PostgreSQL), in cores; null when none. */
  readonly serverCores?: number | null;
  /** Requests the generator completes per second of its own CPU: its capacity at one full core. */
  readonly generatorCapacityRps: number | null;
  /**
   * req/s per core of the target's own CPU, plus its servers' when it works through any:
   * comparable even when the generator was the bottleneck.
   */
  readonly throughputPerCore: number | null;
}

export interface Comparison {
  readonly baseline: TargetName;
  /** Floodgate's median throughput ÷ the baseline's: above 1, Floodgate answers more per second. */
  readonly throughputRatio: number | null;
  /** The same for req/s per core of each target's own CPU. */
  readonly throughputPerCoreRatio: number | null;
  /** The baseline's median p99 ÷ Floodgate's: above 1, Floodgate's p99 is that many times lower. */
  readonly p99LatencyRatio: number | null;
}

/** A target from the performance brief, checked against this report's medians. */
export interface PerformanceGoal {
  readonly goal: string;
  readonly measured: number | null;
  readonly required: number;
  /** How `measured` and `required` read: a ratio (the default), ms, % or orders. */
  readonly unit?: "ratio" | "ms" | "percent" | "orders";
  /** True when `measured` must be at most `required` (latency, excess); default at least. */
  readonly atMost?: boolean;
  /** null when the run could not say (the baseline was not run, or --url was used). */
  readonly met: boolean | null;
  readonly note: string;
}

export interface BenchReport {
  readonly schemaVersion: 1;
  /** The command line that produced this report. */
  readonly command: string;
  readonly scenario: Scenario;
  readonly date: string;
  readonly options: BenchOptions;
  readonly environment: BenchEnvironment;
  /** "embedded child process" when the bench started Floodgate, else the --url. */
  readonly floodgateTarget: string;
  readonly runs: RunRecord[];
  readonly summaries: TargetSummary[];
  readonly comparisons: Comparison[];
  readonly goals: PerformanceGoal[];
  /** --at-fraction-of-max: how the open model's rate was found; absent or null otherwise. */
  readonly calibration?: Calibration | null;
  /** null when the scenario checks no invariants. */
  readonly invariantsPassed: boolean | null;
  readonly files: {
    readonly json: string;
    readonly html: string;
    /** The summary as Markdown, for quoting in docs/performance.md. */
    readonly markdown: string;
    readonly cpuProfiles: string[];
  };
}
