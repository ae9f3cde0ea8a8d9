import type { BenchOptions, TargetName } from "../options.js";
import { median, ratio, roundTo } from "../stats.js";
import type { Comparison, PerformanceGoal, RunRecord, TargetSummary } from "./result-types.js";

const TARGET_ORDER: readonly TargetName[] = ["floodgate", "ceiling", "naive", "uncached"];

function errorsOf(run: RunRecord): number {
  const transport = Object.values(run.generator.transportErrors).reduce((sum, n) => sum + n, 0);
  const serverErrors = Object.entries(run.generator.statusCounts)
    .filter(([status]) => Number(status) >= 500)
    .reduce((sum, [, n]) => sum + n, 0);
  return transport + serverErrors;
}

const rounded = (value: number | null, digits: number) => (value === null ? null : roundTo(value, digits));

/** Medians per target over its runs. */
export function summarizeTargets(runs: readonly RunRecord[]): TargetSummary[] {
  return TARGET_ORDER.flatMap((target) => {
    const mine = runs.filter((run) => run.target === target);
    if (mine.length === 0) return [];
    const latency = (pick: (run: RunRecord) => number) => rounded(median(mine.map(pick)), 3);
    const capacity = mine.map((run) => {
      const cpuSeconds = (run.generator.cpu.userMs + run.generator.cpu.systemMs) / 1000;
      return cpuSeconds > 0 ? run.generator.completed / cpuSeconds : Number.NaN;
    });
    return [
      {
        target,
        runs: mine.length,
        throughputRps: rounded(median(mine.map((run) => run.throughputRps)), 1),
        latencyMs: {
          p50: latency((run) => run.latencyMs.p50),
          p90: latency((run) => run.latencyMs.p90),
          p99: latency((run) => run.latencyMs.p99),
          p999: latency((run) => run.latencyMs.p999),
          max: latency((run) => run.latencyMs.max),
        },
        errors: median(mine.map(errorsOf)),
        generatorCoresUsed: rounded(median(mine.map((run) => run.generator.cpu.coresUsed)), 2),
        targetCores: rounded(median(mine.map((run) => run.cpu.targetCores ?? Number.NaN)), 2),
        otherCores: rounded(median(mine.map((run) => run.cpu.otherCores ?? Number.NaN)), 2),
        generatorCapacityRps: rounded(median(capacity), 0),
        throughputPerCore: rounded(
          median(
            mine.map((run) =>
              run.cpu.targetCores !== null && run.cpu.targetCores > 0
                ? run.throughputRps / run.cpu.targetCores
                : Number.NaN,
            ),
          ),
          0,
        ),
      },
    ];
  });
}

/** Floodgate against each baseline, from the medians. */
export function compareWithBaselines(summaries: readonly TargetSummary[]): Comparison[] {
  const floodgate = summaries.find((summary) => summary.target === "floodgate");
  if (!floodgate) return [];
  return summaries
    .filter((summary) => summary.target !== "floodgate")
    .map((baseline) => ({
      baseline: baseline.target,
      throughputRatio: rounded(ratio(floodgate.throughputRps, baseline.throughputRps), 3),
      throughputPerCoreRatio: rounded(ratio(floodgate.throughputPerCore, baseline.throughputPerCore), 3),
      p99LatencyRatio: rounded(ratio(baseline.latencyMs.p99, floodgate.latencyMs.p99), 3),
    }));
}

/** A generator this busy is the bottleneck: the target could have answered more. */
export const GENERATOR_BOUND_CORES = 0.85;

/**
 * The brief's targets, where this report's scenario and baselines can answer them. A throughput
 * goal needs both sides to run at their limit: not in the open model when Floodgate served the
 * whole offered rate, and not by raw req/s when the generator was the bottleneck (then requests
 * per second per core of the target's own CPU are compared instead, and the note says so).
 */
export function evaluateGoals(
  options: BenchOptions,
  comparisons: readonly Comparison[],
  summaries: readonly TargetSummary[],
): PerformanceGoal[] {
  const against = (baseline: TargetName) =>
    comparisons.find((comparison) => comparison.baseline === baseline);
  const summaryOf = (target: TargetName) => summaries.find((summary) => summary.target === target);
  const embedded = options.url === null;
  const goal = (name: string, measured: number | null, required: number, note: string): PerformanceGoal => ({
    goal: name,
    measured,
    required,
    met: measured === null || !embedded ? null : measured >= required,
    note: !embedded ? `${note}; measured against --url, not the embedded target the goal names` : note,
  });
  const unmeasured = (name: string, required: number, note: string): PerformanceGoal => ({
    goal: name,
    measured: null,
    required,
    met: null,
    note,
  });
  const throughputGoal = (name: string, baseline: TargetName, required: number): PerformanceGoal => {
    const comparison = against(baseline);
    const floodgate = summaryOf("floodgate");
    const other = summaryOf(baseline);
    if (!comparison || !floodgate || !other)
      return unmeasured(name, required, `not measured: add --compare ${baseline}`);
    if (
      options.model.kind === "open" &&
      floodgate.throughputRps !== null &&
      floodgate.throughputRps >= 0.98 * options.model.rate
    ) {
      return unmeasured(
        name,
        required,
        `open model: Floodgate served the whole offered ${options.model.rate} req/s, so its limit is not measured (use the closed model)`,
      );
    }
    const generatorBound = [floodgate, other].filter(
      (summary) => (summary.generatorCoresUsed ?? 0) >= GENERATOR_BOUND_CORES,
    );
    if (generatorBound.length > 0) {
      return goal(
        name,
        comparison.throughputPerCoreRatio,
        required,
        `the generator was the bottleneck against ${generatorBound.map((s) => s.target).join(" and ")}, so this is req/s per core of the target's CPU`,
      );
    }
    return goal(name, comparison.throughputRatio, required, "medians of this report's runs");
  };
  if (options.scenario === "flash-sale") {
    const naive = against("naive");
    return [
      throughputGoal("embedded flash-sale intake throughput ≥ 10× naive", "naive", 10),
      naive
        ? goal(
            "embedded flash-sale burst p99 ≥ 10× lower than naive",
            naive.p99LatencyRatio,
            10,
            "medians of this report's runs",
          )
        : unmeasured(
            "embedded flash-sale burst p99 ≥ 10× lower than naive",
            10,
            "not measured: add --compare naive",
          ),
    ];
  }
  if (options.scenario === "catalog-read") {
    return [
      throughputGoal("catalog-read cache-hit throughput ≥ 60% of ceiling", "ceiling", 0.6),
      throughputGoal("catalog-read throughput ≥ 10× the same reads with caching off", "uncached", 10),
    ];
  }
  return [];
}

/** The run whose throughput is the median of its target's (the one the charts draw). */
export function representativeRun(runs: readonly RunRecord[], target: TargetName): RunRecord | undefined {
  const mine = runs.filter((run) => run.target === target).sort((a, b) => a.throughputRps - b.throughputRps);
  return mine[(mine.length - 1) >>> 1];
}
