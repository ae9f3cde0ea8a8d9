import { describe, expect, it } from "vitest";
import { createLatencyHistogram, recordLatencyMs, summarizeLatency } from "../../src/bench/latency.js";

describe("latency summary from an HDR histogram", () => {
  it("reads percentiles within the histogram's 3 significant digits", () => {
    const histogram = createLatencyHistogram();
    for (let ms = 1; ms <= 1000; ms++) recordLatencyMs(histogram, ms);
    const summary = summarizeLatency(histogram);
    expect(summary.count).toBe(1000);
    const near = (actual: number, expected: number) =>
      expect(Math.abs(actual - expected) / expected).toBeLessThan(0.001);
    near(summary.p50, 500);
    near(summary.p90, 900);
    near(summary.p99, 990);
    near(summary.p999, 999);
    near(summary.max, 1000);
    near(summary.mean, 500.5);
  });

  it("keeps sub-millisecond values (recorded in µs) and never records zero", () => {
    const histogram = createLatencyHistogram();
    recordLatencyMs(histogram, 0.25);
    recordLatencyMs(histogram, 0);
    const summary = summarizeLatency(histogram);
    expect(summary.count).toBe(2);
    expect(summary.max).toBeCloseTo(0.25, 3);
    expect(summary.p50).toBeCloseTo(0.001, 3);
  });

  it("shows the tail, which a mean would hide", () => {
    const histogram = createLatencyHistogram();
    for (let i = 0; i < 990; i++) recordLatencyMs(histogram, 2);
    for (let i = 0; i < 10; i++) recordLatencyMs(histogram, 800);
    const summary = summarizeLatency(histogram);
    expect(summary.p50).toBeCloseTo(2, 2);
    expect(summary.p99).toBeCloseTo(2, 2);
    expect(summary.p999).toBeGreaterThan(795);
    expect(summary.max).toBeGreaterThan(795);
  });

  it("is all zeros when nothing was recorded", () => {
    expect(summarizeLatency(createLatencyHistogram())).toEqual({
      count: 0,
      mean: 0,
      p50: 0,
      p90: 0,
      p99: 0,
      p999: 0,
      max: 0,
    });
  });
});
