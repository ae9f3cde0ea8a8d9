import type { BenchOptions, TargetName } from "../options.js";
import { median, ratio, roundTo } from "../stats.js";
import { runsOnRedisAndJetStream } from "../target/target-adapters.js";
import { DRAIN_TOLERANCE, INTAKE_PEAK_MULTIPLE_REQUIRED, peakShavingOf } from "./peak-shaving.js";
import type { Calibration, Comparison, PerformanceGoal, RunRecord, TargetSummary } from "./result-types.js";

const TARGET_ORDER: readonly TargetName[] = ["floodgate", "ceiling", "naive", "uncached"];

function errorsOf(run: RunRecord): number {
  const transport = Object.values(run.generator.transportErrors).reduce((sum, n) => sum + n, 0);
  const serverErrors = Object.entries(run.generator.statusCounts)
    .filter(([status]) => Number(status) >= 500)
    .reduce((sum, [, n]) => sum + n, 0);
  return transport + serverErrors;
}

const rounded = (value: number | null, digits: number) => (value === null ? null : roundTo(value, digits));

/**
 * req/s per core the target used: its own CPU plus its servers' (Redis, NATS, PostgreSQL), since
 * work handed to a server is still work per request. NaN when the target's CPU is unknown.
 */
export function throughputPerCoreOf(run: RunRecord): number {
  const cores = run.cpu.targetCores === null ? Number.NaN : run.cpu.targetCores + (run.cpu.serverCores ?? 0);
  return cores > 0 ? run.throughputRps / cores : Number.NaN;
}

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
        serverCores: rounded(median(mine.map((run) => run.cpu.serverCores ?? Number.NaN)), 2),
        generatorCapacityRps: rounded(median(capacity), 0),
        throughputPerCore: rounded(median(mine.map(throughputPerCoreOf)), 0),
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

/** Issue 5's latency target: p99 at most this at this fraction of the maximum throughput. */
export const P99_AT_FRACTION = { fraction: 0.8, maxMs: 25 } as const;

/** True when some target's CPU figures include the servers it works through. */
export function summariesHaveServerCpu(summaries: readonly TargetSummary[]): boolean {
  return summaries.some((summary) => summary.serverCores !== null && summary.serverCores !== undefined);
}

/** What "per core" and CPU per request divide by: the target's CPU, and its servers' when it works through any. */
export function perCoreLabelOf(summaries: readonly TargetSummary[]): string {
  return summariesHaveServerCpu(summaries) ? "target + servers CPU" : "target CPU";
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
  /** Every run (for the per-run peak-shaving goals) and the --at-fraction-of-max calibration. */
  context: { readonly runs: readonly RunRecord[]; readonly calibration?: Calibration | null } = { runs: [] },
): PerformanceGoal[] {
  const against = (baseline: TargetName) =>
    comparisons.find((comparison) => comparison.baseline === baseline);
  const summaryOf = (target: TargetName) => summaries.find((summary) => summary.target === target);
  const embedded = options.url === null;
  const goal = (
    name: string,
    measured: number | null,
    required: number,
    note: string,
    shape: Pick<PerformanceGoal, "unit" | "atMost"> = {},
  ): PerformanceGoal => {
    // A goal met while Floodgate failed requests (no answer, or a 5xx) is not met: those requests
    // were cheap to "serve", and the figure counts them.
    const failures = summaryOf("floodgate")?.errors ?? 0;
    const reached = measured === null ? null : shape.atMost ? measured <= required : measured >= required;
    return {
      goal: name,
      measured,
      required,
      ...shape,
      met: measured === null || !embedded ? null : reached === true && failures > 0 ? false : reached,
      note: [
        note,
        ...(!embedded ? ["measured against --url, not a target the bench started"] : []),
        ...(failures > 0
          ? [`not met: Floodgate failed ${failures} requests (no answer or 5xx) in its median run`]
          : []),
      ].join("; "),
    };
  };
  const unmeasured = (
    name: string,
    required: number,
    note: string,
    shape: Pick<PerformanceGoal, "unit" | "atMost"> = {},
  ): PerformanceGoal => ({
    goal: name,
    measured: null,
    required,
    ...shape,
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
      const servers = floodgate.serverCores !== null && floodgate.serverCores !== undefined;
      return goal(
        name,
        comparison.throughputPerCoreRatio,
        required,
        `the generator was the bottleneck against ${generatorBound.map((s) => s.target).join(" and ")}, so this is req/s per core of the target's CPU${
          servers ? " (Floodgate's including the servers it works through)" : ""
        }; by raw req/s ${comparison.throughputRatio ?? "–"}×`,
      );
    }
    return goal(name, comparison.throughputRatio, required, "medians of this report's runs");
  };
  if (options.scenario === "accept") {
    const where = runsOnRedisAndJetStream(options.targetEnv) ? "Redis + JetStream" : "embedded";
    const ceiling = against("ceiling");
    const cpuName = `accept-path CPU per order ≤ 4× the ceiling's per request (${where})`;
    return [
      throughputGoal(`accept-path throughput ≥ 0.30× ceiling (${where})`, "ceiling", 0.3),
      // CPU per request is the inverse of req/s per core: at most 4× the CPU is at least ¼ of it.
      ceiling
        ? goal(
            cpuName,
            ceiling.throughputPerCoreRatio === null ? null : roundTo(1 / ceiling.throughputPerCoreRatio, 2),
            4,
            `${perCoreLabelOf(summaries)} time per request, Floodgate's ÷ the ceiling's, medians of this report's runs`,
            { atMost: true },
          )
        : unmeasured(cpuName, 4, "not measured: add --compare ceiling", { atMost: true }),
    ];
  }
  if (options.scenario === "flash-sale" && runsOnRedisAndJetStream(options.targetEnv)) {
    return [
      throughputGoal("flash-sale intake throughput ≥ 35% of ceiling (Redis + JetStream)", "ceiling", 0.35),
      throughputGoal("flash-sale intake throughput ≥ 10× naive (Redis + JetStream)", "naive", 10),
      p99AtFractionGoal(),
      ...peakShavingGoals(),
    ];
  }
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
  /** Issue 5: p99 of the open model at 0.8 × the closed-model maximum measured just before. */
  function p99AtFractionGoal(): PerformanceGoal {
    const name = `flash-sale p99 ≤ ${P99_AT_FRACTION.maxMs} ms at ${P99_AT_FRACTION.fraction * 100}% of the maximum throughput`;
    const calibration = context.calibration;
    if (!calibration || Math.abs(calibration.fraction - P99_AT_FRACTION.fraction) > 1e-9) {
      return unmeasured(
        name,
        P99_AT_FRACTION.maxMs,
        `not measured: run with --at-fraction-of-max ${P99_AT_FRACTION.fraction}`,
        { unit: "ms", atMost: true },
      );
    }
    return goal(
      name,
      summaryOf("floodgate")?.latencyMs.p99 ?? null,
      P99_AT_FRACTION.maxMs,
      `median p99 of the open-model runs at ${calibration.rate} req/s = ${calibration.fraction} × ${Math.round(
        calibration.maxRps,
      )} req/s, the median of ${calibration.runs.length} closed-model runs just before`,
      { unit: "ms", atMost: true },
    );
  }

  /** Issue 5: every Floodgate run (calibration runs too) held the ceiling, peaked ≥ 10× it, drained on time. */
  function peakShavingGoals(): PerformanceGoal[] {
    const floodgateRuns = [...(context.calibration?.runs ?? []), ...context.runs].filter(
      (run) => run.target === "floodgate",
    );
    const shavings = floodgateRuns.flatMap((run) => {
      const shaving = peakShavingOf(options, run);
      return shaving && shaving.writeCeiling !== null ? [shaving] : [];
    });
    const names = {
      held: "database writes never above the write ceiling (beyond one batch of burst), in every run",
      intake: `intake peak ≥ ${INTAKE_PEAK_MULTIPLE_REQUIRED}× the write ceiling, in every run`,
      drain: `drain time within ${DRAIN_TOLERANCE * 100}% of backlog ÷ ceiling, in every run`,
    };
    if (shavings.length === 0) {
      const why =
        options.writeRate > 0
          ? "not measured: no telemetry from the target"
          : "not measured: --write-rate 0 sets no ceiling";
      return [
        unmeasured(names.held, 0, why, { unit: "orders", atMost: true }),
        unmeasured(names.intake, INTAKE_PEAK_MULTIPLE_REQUIRED, why),
        unmeasured(names.drain, DRAIN_TOLERANCE * 100, why, { unit: "percent", atMost: true }),
      ];
    }
    const worstExcess = Math.max(...shavings.map((s) => s.maxExcessOrders ?? 0));
    const allowance = shavings[0]!.burstAllowance ?? 0;
    const lowestMultiple = Math.min(...shavings.map((s) => s.intakePeakMultiple ?? 0));
    const judged = shavings.flatMap((s) => (s.drain?.judgeable ? [s.drain] : []));
    const runs = `${shavings.length} Floodgate run(s)`;
    return [
      goal(
        names.held,
        Math.max(0, worstExcess),
        allowance,
        `the most orders written above ceiling × time over any stretch of 500 ms samples, worst of ${runs}; allowed one batch (${allowance})`,
        { unit: "orders", atMost: true },
      ),
      goal(
        names.intake,
        lowestMultiple,
        INTAKE_PEAK_MULTIPLE_REQUIRED,
        `peak accepted orders/s in a 500 ms sample ÷ the ceiling, lowest of ${runs}`,
      ),
      judged.length === 0
        ? unmeasured(
            names.drain,
            DRAIN_TOLERANCE * 100,
            "not judged: every backlog drains in under 1.25 s, below what the 250 ms drain poll can resolve within 20 %",
            { unit: "percent", atMost: true },
          )
        : goal(
            names.drain,
            Math.max(...judged.map((d) => Math.abs(d.differencePercent))),
            DRAIN_TOLERANCE * 100,
            `largest |measured − backlog ÷ ceiling| ÷ (backlog ÷ ceiling) of ${judged.length} judged run(s)${
              judged.length < shavings.length
                ? ` (${shavings.length - judged.length} too short to judge)`
                : ""
            }`,
            { unit: "percent", atMost: true },
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
