import * as hdr from "hdr-histogram-js";

/** Latency figures in milliseconds, read from an HDR histogram recorded in microseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export type LatencyHistogram = hdr.Histogram;

/** Two minutes in µs: anything slower is a failure, and the histogram resizes past it anyway. */
const HIGHEST_TRACKABLE_US = 120_000_000;

/**
 * A histogram of latencies in whole microseconds with 3 significant digits: every percentile is
 * exact to 0.1 %, and recording costs the same whatever the value (no sorting, no sampling).
 */
export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_US,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Records a latency given in milliseconds (fractions allowed). */
export function recordLatencyMs(histogram: LatencyHistogram, milliseconds: number): void {
  histogram.recordValue(Math.max(1, Math.round(milliseconds * 1000)));
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

export function summarizeLatency(histogram: LatencyHistogram): LatencySummary {
  if (histogram.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  const ms = (us: number) => round3(us / 1000);
  return {
    count: histogram.totalCount,
    mean: ms(histogram.mean),
    p50: ms(histogram.getValueAtPercentile(50)),
    p90: ms(histogram.getValueAtPercentile(90)),
    p99: ms(histogram.getValueAtPercentile(99)),
    p999: ms(histogram.getValueAtPercentile(99.9)),
    max: ms(histogram.maxValue),
  };
}
