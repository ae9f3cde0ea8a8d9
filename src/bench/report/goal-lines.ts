import { P99_AT_FRACTION } from "./build-report.js";
import { formatGoalValue, formatMs, formatNumber } from "./format.js";
import type { BenchReport, PerformanceGoal } from "./result-types.js";

/** "MET", "MISSED" or "n/a". */
export function goalVerdict(goal: PerformanceGoal): string {
  return goal.met === null ? "n/a" : goal.met ? "MET" : "MISSED";
}

/** "18.2 ms (needs ≤ 25 ms)" */
export function describeGoalFigures(goal: PerformanceGoal): string {
  return `${formatGoalValue(goal.measured, goal.unit)} (needs ${goal.atMost ? "≤" : "≥"} ${formatGoalValue(
    goal.required,
    goal.unit,
  )})`;
}

const list = (values: readonly number[], format: (value: number) => string) => values.map(format).join(" · ");

/**
 * The --at-fraction-of-max result in one line: the closed-model maximum, the open-model rate at
 * that fraction, and Floodgate's p99 there (judged when the fraction is the target's).
 */
export function describeP99AtFraction(report: BenchReport): string | null {
  const calibration = report.calibration;
  if (!calibration) return null;
  const floodgate = report.runs.filter((run) => run.target === "floodgate");
  const summary = report.summaries.find((s) => s.target === "floodgate");
  const p99 = summary?.latencyMs.p99 ?? null;
  const percent = formatNumber(calibration.fraction * 100, 0);
  const lags = floodgate.flatMap((run) => (run.generator.sendLagMs ? [run.generator.sendLagMs.p99] : []));
  const judged = Math.abs(calibration.fraction - P99_AT_FRACTION.fraction) < 1e-9;
  const verdict =
    p99 === null
      ? ""
      : judged
        ? ` — ${p99 <= P99_AT_FRACTION.maxMs ? "PASS" : "FAIL"} (≤ ${P99_AT_FRACTION.maxMs} ms)`
        : ` (the ${P99_AT_FRACTION.maxMs} ms target is set at ${P99_AT_FRACTION.fraction * 100}% of max)`;
  return `p99 at ${percent}% of max: maximum ${formatNumber(calibration.maxRps)} req/s (closed model, ${
    calibration.model.connections
  } connections, median of ${calibration.runs.length} run(s): ${list(
    calibration.runs.map((run) => run.throughputRps),
    (v) => formatNumber(v),
  )}) → open model at ${formatNumber(calibration.rate)} req/s: Floodgate p99 ${formatMs(p99)} ms (median of ${
    floodgate.length
  } run(s): ${list(
    floodgate.map((run) => run.latencyMs.p99),
    formatMs,
  )} ms), p50 ${formatMs(summary?.latencyMs.p50)} ms, served ${formatNumber(summary?.throughputRps)} req/s${
    lags.length > 0 ? `, generator send lag p99 ${list(lags, formatMs)} ms` : ""
  }${verdict}`;
}

/** Per run: the prefixes it had on shared servers, and what was removed after it. */
export function describeSharedState(run: BenchReport["runs"][number]): string | null {
  const shared = run.sharedState;
  if (!shared) return null;
  const prefixes = Object.entries(shared.prefixes)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");
  const { cleanup } = shared;
  const removed = `removed ${cleanup.streamsDeleted.length} JetStream stream(s) and ${formatNumber(
    cleanup.keysDeleted,
  )} Redis key(s)`;
  const problems = cleanup.errors.length > 0 ? `; NOT removed: ${cleanup.errors.join("; ")}` : "";
  const expiring = cleanup.expiring.length > 0 ? `; left to expire: ${cleanup.expiring.join("; ")}` : "";
  return `${prefixes}; ${removed}${problems}${expiring}`;
}
