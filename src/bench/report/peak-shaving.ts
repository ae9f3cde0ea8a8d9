import type { BenchReport, RunRecord } from "./result-types.js";

/** What the target's telemetry says about peak shaving in one run (orders scenarios only). */
export interface PeakShaving {
  readonly peakAcceptedPerSecond: number;
  readonly peakDbWritesPerSecond: number;
  /** The configured write ceiling; null when none was set (or unknown, with --url). */
  readonly writeCeiling: number | null;
  /** 500 ms samples whose write rate was more than 10 % above the ceiling. */
  readonly samplesOverCeiling: number;
  readonly samples: number;
  readonly peakQueueDepth: number;
}

/** Read from the run's server series; null for runs without one or without orders. */
export function peakShavingOf(report: BenchReport, run: RunRecord): PeakShaving | null {
  const samples = run.serverSeries;
  if (!samples || samples.length === 0 || report.scenario === "catalog-read") return null;
  const writeCeiling =
    report.options.url === null && report.options.writeRate > 0 ? report.options.writeRate : null;
  const max = (values: number[]) => Math.round(Math.max(0, ...values));
  return {
    peakAcceptedPerSecond: max(samples.map((s) => s.acceptedPerSecond)),
    peakDbWritesPerSecond: max(samples.map((s) => s.dbWritesPerSecond)),
    writeCeiling,
    samplesOverCeiling:
      writeCeiling === null ? 0 : samples.filter((s) => s.dbWritesPerSecond > writeCeiling * 1.1).length,
    samples: samples.length,
    peakQueueDepth: max(samples.map((s) => s.queueDepth)),
  };
}

/** One line, e.g. for the text summary and the Markdown. */
export function describePeakShaving(shaving: PeakShaving, drainSeconds: number | null): string {
  const ceiling =
    shaving.writeCeiling === null
      ? "no write ceiling"
      : `ceiling ${shaving.writeCeiling}/s, ${shaving.samplesOverCeiling} of ${shaving.samples} samples more than 10 % above it`;
  return `accepted peaked at ${shaving.peakAcceptedPerSecond}/s; database writes peaked at ${shaving.peakDbWritesPerSecond}/s (${ceiling}); queue depth peaked at ${shaving.peakQueueDepth}${
    drainSeconds === null ? "" : `, drained ${drainSeconds.toFixed(1)} s after the load`
  }`;
}
