import type { TelemetrySample } from "../../platform/observability/telemetry.js";
import { DRAIN_POLL_MS, type DrainOutcome } from "../flash-sale-audit.js";
import type { BenchOptions } from "../options.js";
import { formatNumber } from "./format.js";
import type { RunRecord } from "./result-types.js";

/** Intake must peak at least this many times the write ceiling for the burst to count as shaved. */
export const INTAKE_PEAK_MULTIPLE_REQUIRED = 10;
/** The drain may differ from backlog ÷ ceiling by this share of it. */
export const DRAIN_TOLERANCE = 0.2;

/**
 * Drain time against backlog ÷ ceiling. The worker writes at the ceiling once the load is over, so
 * the backlog left at the end of the load should take backlog ÷ ceiling to write.
 */
export interface DrainCheck {
  /** Orders accepted but not yet written when the load ended (units reserved, one per order). */
  readonly backlogOrders: number;
  readonly expectedSeconds: number;
  readonly measuredSeconds: number;
  /** (measured − expected) ÷ expected, in %. */
  readonly differencePercent: number;
  /**
   * False when the expected drain is so short that the drain poll's resolution (250 ms) alone is
   * more than the tolerance: then the figures are shown but not judged.
   */
  readonly judgeable: boolean;
  readonly pass: boolean | null;
}

/** What the target's telemetry says about peak shaving in one run (orders scenarios only). */
export interface PeakShaving {
  /** Highest 500 ms sample of accepted orders per second, from the start of the load on. */
  readonly peakAcceptedPerSecond: number;
  readonly peakDbWritesPerSecond: number;
  /** The configured write ceiling; null when none was set (or unknown, with --url). */
  readonly writeCeiling: number | null;
  /** 500 ms samples whose write rate was more than 10 % above the ceiling. */
  readonly samplesOverCeiling: number;
  readonly samples: number;
  readonly peakQueueDepth: number;
  /** peakAcceptedPerSecond ÷ the ceiling. */
  readonly intakePeakMultiple: number | null;
  /** Orders the ceiling's token bucket may write at once: one batch (min(batch size, ceiling)). */
  readonly burstAllowance: number | null;
  /**
   * The most the orders written exceeded ceiling × time over any stretch of consecutive samples
   * since the load started, in orders (≤ 0: never above). A token bucket with burst b keeps every
   * stretch within b, whatever its length; that is the check.
   */
  readonly maxExcessOrders: number | null;
  /** maxExcessOrders ≤ burstAllowance; null without a ceiling. */
  readonly writeCeilingHeld: boolean | null;
  readonly drain: DrainCheck | null;
}

/** The samples that cover the load and what followed: those ending after the load started. */
export function samplesSinceLoad(
  samples: readonly TelemetrySample[],
  loadStartedAt: number,
): TelemetrySample[] {
  return samples.filter((sample) => sample.at > loadStartedAt);
}

/**
 * The largest excess of writes over ceiling × time across any run of consecutive samples (Kadane's
 * maximum subarray over (rate − ceiling) × interval). Each sample's interval is the time since the
 * previous sample in `all`; the first sample of `all` has none and is skipped.
 */
export function maxExcessOverCeiling(
  all: readonly TelemetrySample[],
  fromAt: number,
  ceiling: number,
): number | null {
  let best: number | null = null;
  let running = 0;
  for (let index = 1; index < all.length; index++) {
    const sample = all[index]!;
    if (sample.at <= fromAt) continue;
    const seconds = (sample.at - all[index - 1]!.at) / 1000;
    const excess = (sample.dbWritesPerSecond - ceiling) * seconds;
    running = Math.max(excess, running + excess);
    best = best === null ? running : Math.max(best, running);
  }
  return best;
}

/** Drain time against backlog ÷ ceiling; null when the run has no backlog figure or no ceiling. */
export function drainCheck(drain: DrainOutcome | null, ceiling: number | null): DrainCheck | null {
  const backlog = drain?.backlogAtLoadEnd;
  if (!drain?.drained || backlog === undefined || backlog === null || ceiling === null || ceiling <= 0) {
    return null;
  }
  const expectedSeconds = backlog / ceiling;
  // When the backlog was written, not when the queue depth in the 500 ms telemetry caught up.
  const measuredSeconds = (drain.backlogWrittenMs ?? drain.waitedMs) / 1000;
  const judgeable = expectedSeconds * DRAIN_TOLERANCE >= DRAIN_POLL_MS / 1000;
  const differencePercent =
    expectedSeconds > 0 ? ((measuredSeconds - expectedSeconds) / expectedSeconds) * 100 : Number.NaN;
  return {
    backlogOrders: backlog,
    expectedSeconds,
    measuredSeconds,
    differencePercent: Number.isFinite(differencePercent) ? Math.round(differencePercent * 10) / 10 : 0,
    judgeable,
    pass: judgeable ? Math.abs(differencePercent) <= DRAIN_TOLERANCE * 100 : null,
  };
}

/** Read from the run's server series; null for runs without one or without orders. */
export function peakShavingOf(options: BenchOptions, run: RunRecord): PeakShaving | null {
  const all = run.serverSeries;
  if (!all || all.length === 0 || options.scenario === "catalog-read") return null;
  const loadStartedAt = run.generator.startedAt;
  const since = samplesSinceLoad(all, loadStartedAt);
  const samples = since.length > 0 ? since : all;
  const writeCeiling = options.url === null && options.writeRate > 0 ? options.writeRate : null;
  const max = (values: number[]) => Math.round(Math.max(0, ...values));
  const peakAccepted = max(samples.map((s) => s.acceptedPerSecond));
  const excess = writeCeiling === null ? null : maxExcessOverCeiling(all, loadStartedAt, writeCeiling);
  const burstAllowance =
    writeCeiling === null ? null : Math.max(1, Math.min(options.batchSize, writeCeiling));
  return {
    peakAcceptedPerSecond: peakAccepted,
    peakDbWritesPerSecond: max(samples.map((s) => s.dbWritesPerSecond)),
    writeCeiling,
    samplesOverCeiling:
      writeCeiling === null ? 0 : samples.filter((s) => s.dbWritesPerSecond > writeCeiling * 1.1).length,
    samples: samples.length,
    peakQueueDepth: max(samples.map((s) => s.queueDepth)),
    intakePeakMultiple: writeCeiling === null ? null : Math.round((peakAccepted / writeCeiling) * 10) / 10,
    burstAllowance,
    maxExcessOrders: excess === null ? null : Math.round(excess * 10) / 10,
    // Half an order of slack: the samples' rates are floating-point counts over measured intervals.
    writeCeilingHeld: excess === null || burstAllowance === null ? null : excess <= burstAllowance + 0.5,
    drain: drainCheck(run.drain, writeCeiling),
  };
}

const verdict = (pass: boolean | null) => (pass === null ? "not judged" : pass ? "PASS" : "FAIL");

/** The drain against backlog ÷ ceiling, in words. */
export function describeDrainCheck(check: DrainCheck, ceiling: number): string {
  const sign = check.differencePercent >= 0 ? "+" : "";
  return `backlog written in ${formatNumber(check.measuredSeconds, 2)} s vs backlog ${formatNumber(
    check.backlogOrders,
  )} ÷ ${formatNumber(ceiling)}/s = ${formatNumber(check.expectedSeconds, 2)} s (${sign}${formatNumber(
    check.differencePercent,
    1,
  )} %; ${
    check.judgeable
      ? `${verdict(check.pass)} within ${DRAIN_TOLERANCE * 100} %`
      : `not judged: under ${formatNumber(DRAIN_POLL_MS / 1000 / DRAIN_TOLERANCE, 2)} s the 250 ms drain poll alone exceeds ${DRAIN_TOLERANCE * 100} %`
  })`;
}

/** One line, e.g. for the text summary and the Markdown. */
export function describePeakShaving(shaving: PeakShaving, drainSeconds: number | null): string {
  const ceiling = shaving.writeCeiling;
  if (ceiling === null) {
    return `accepted peaked at ${formatNumber(shaving.peakAcceptedPerSecond)}/s; database writes peaked at ${formatNumber(
      shaving.peakDbWritesPerSecond,
    )}/s (no write ceiling); queue depth peaked at ${formatNumber(shaving.peakQueueDepth)}${
      drainSeconds === null ? "" : `, drained ${drainSeconds.toFixed(1)} s after the load`
    }`;
  }
  const excess = Math.max(0, shaving.maxExcessOrders ?? 0);
  const intake = `intake peaked at ${formatNumber(shaving.peakAcceptedPerSecond)} accepted orders/s = ${formatNumber(
    shaving.intakePeakMultiple,
    1,
  )}× the write ceiling (${verdict(
    shaving.intakePeakMultiple === null ? null : shaving.intakePeakMultiple >= INTAKE_PEAK_MULTIPLE_REQUIRED,
  )} ≥ ${INTAKE_PEAK_MULTIPLE_REQUIRED}×)`;
  const writes = `database writes peaked at ${formatNumber(shaving.peakDbWritesPerSecond)}/s in a 500 ms sample vs ceiling ${formatNumber(
    ceiling,
  )}/s (${shaving.samplesOverCeiling} of ${shaving.samples} samples more than 10 % above it); writes exceeded ceiling × time by at most ${formatNumber(
    excess,
    0,
  )} orders over any stretch, allowed ${formatNumber(shaving.burstAllowance)} (one batch of burst): ${verdict(
    shaving.writeCeilingHeld,
  )}`;
  const drain = shaving.drain
    ? describeDrainCheck(shaving.drain, ceiling)
    : drainSeconds === null
      ? null
      : `drained ${drainSeconds.toFixed(1)} s after the load`;
  return [
    intake,
    writes,
    `queue depth peaked at ${formatNumber(shaving.peakQueueDepth)}`,
    ...(drain ? [drain] : []),
  ].join("; ");
}
