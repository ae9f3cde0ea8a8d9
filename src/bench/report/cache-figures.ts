import { isOrderBurst } from "../options.js";
import type { BenchReport, RunRecord } from "./result-types.js";

/** What the target's telemetry says about its cache while the load ran (read scenarios). */
export interface CacheFigures {
  /** Hits in the in-process level / lookups, over the loaded samples. */
  readonly l1HitRatio: number;
  /** Hits at either level / lookups. */
  readonly hitRatio: number;
  /** Loads from the database per second, averaged over the loaded samples. */
  readonly databaseReadsPerSecond: number;
  readonly samples: number;
}

/**
 * Averaged over the samples taken while requests were flowing (more than 10 % of the run's peak
 * request rate), so the idle seconds before and after the load do not dilute the figures.
 */
export function cacheFiguresOf(report: BenchReport, run: RunRecord): CacheFigures | null {
  const samples = run.serverSeries;
  if (!samples || samples.length === 0 || isOrderBurst(report.scenario)) return null;
  const peak = Math.max(0, ...samples.map((s) => s.requestsPerSecond));
  const loaded = samples.filter((s) => s.requestsPerSecond > peak * 0.1 && s.cacheHitRatio !== null);
  if (loaded.length === 0) return null;
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return {
    l1HitRatio: mean(loaded.map((s) => s.cacheL1HitRatio ?? 0)),
    hitRatio: mean(loaded.map((s) => s.cacheHitRatio ?? 0)),
    databaseReadsPerSecond: mean(loaded.map((s) => s.cacheLoadsPerSecond)),
    samples: loaded.length,
  };
}

export function describeCacheFigures(figures: CacheFigures): string {
  const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;
  return `cache hit ratio ${percent(figures.hitRatio)} (in-process level alone ${percent(figures.l1HitRatio)}), database reads ${Math.round(figures.databaseReadsPerSecond)}/s (mean of ${figures.samples} loaded 500 ms samples)`;
}
