import { describe, expect, it } from "vitest";
import { resolveBenchOptions } from "../../src/bench/options.js";
import {
  describePeakShaving,
  drainCheck,
  maxExcessOverCeiling,
  peakShavingOf,
  samplesSinceLoad,
} from "../../src/bench/report/peak-shaving.js";
import { craftedRun, sample } from "./run-fixture.js";

/**
 * Samples every 500 ms from t = 10,000, when the load starts (as in craftedRun): the first one
 * covers the time before the load and only serves as the start of the next one's interval.
 */
const series = (rates: { accepted?: number; writes?: number; queue?: number }[]) =>
  rates.map((rate, index) => sample(10_000 + index * 500, rate));

describe("writes against the ceiling", () => {
  it("finds the largest excess over ceiling × time across any stretch of samples", () => {
    // 250/s ceiling: 125 orders per 500 ms. Samples 2 and 3 write 150 and 140: +25, +15 → +40 together.
    const samples = series([
      { writes: 250 },
      { writes: 250 },
      { writes: 300 },
      { writes: 280 },
      { writes: 200 },
    ]);
    expect(maxExcessOverCeiling(samples, 10_000, 250)).toBeCloseTo(40, 6);
  });

  it("lets a later deficit not hide an earlier excess, nor an earlier deficit cancel a later one", () => {
    const samples = series([
      {},
      { writes: 100 },
      { writes: 300 },
      { writes: 100 },
      { writes: 350 },
      { writes: 330 },
    ]);
    // Stretch of samples 4 and 5: +50 and +40.
    expect(maxExcessOverCeiling(samples, 10_000, 250)).toBeCloseTo(90, 6);
  });

  it("is negative when the writes never reached the ceiling, and ignores samples before the load", () => {
    const samples = [
      sample(9_500, { writes: 9_000 }),
      sample(10_000, { writes: 9_000 }),
      sample(10_500, { writes: 200 }),
      sample(11_000, { writes: 240 }),
    ];
    // The sample at 10,000 ends when the load starts: it is the warm-up's, not the burst's.
    expect(maxExcessOverCeiling(samples, 10_000, 250)).toBeCloseTo(-5, 6);
    expect(samplesSinceLoad(samples, 10_000).map((s) => s.at)).toEqual([10_500, 11_000]);
  });

  it("uses each sample's own interval", () => {
    const samples = [sample(9_000), sample(10_200, { writes: 300 }), sample(10_400, { writes: 300 })];
    // 1.2 s at +50/s, then 0.2 s at +50/s.
    expect(maxExcessOverCeiling(samples, 9_500, 250)).toBeCloseTo(70, 6);
  });
});

describe("drain time against backlog ÷ ceiling", () => {
  it("compares the measured drain with the backlog at the end of the load", () => {
    expect(
      drainCheck({ drained: true, waitedMs: 6_600, reservedAtEnd: 0, backlogAtLoadEnd: 1_500 }, 250),
    ).toEqual({
      backlogOrders: 1_500,
      expectedSeconds: 6,
      measuredSeconds: 6.6,
      differencePercent: 10,
      judgeable: true,
      pass: true,
    });
    expect(
      drainCheck({ drained: true, waitedMs: 4_500, reservedAtEnd: 0, backlogAtLoadEnd: 1_500 }, 250),
    ).toMatchObject({ differencePercent: -25, pass: false });
  });

  it("times the backlog until nothing was reserved, not until the telemetry's queue depth caught up", () => {
    expect(
      drainCheck(
        {
          drained: true,
          waitedMs: 5_600,
          reservedAtEnd: 0,
          backlogAtLoadEnd: 1_100,
          backlogWrittenMs: 4_700,
        },
        250,
      ),
    ).toMatchObject({ expectedSeconds: 4.4, measuredSeconds: 4.7, differencePercent: 6.8, pass: true });
  });

  it("does not judge a drain shorter than the poll can resolve within the tolerance", () => {
    expect(
      drainCheck({ drained: true, waitedMs: 500, reservedAtEnd: 0, backlogAtLoadEnd: 100 }, 250),
    ).toMatchObject({ expectedSeconds: 0.4, judgeable: false, pass: null });
    expect(
      drainCheck({ drained: true, waitedMs: 300, reservedAtEnd: 0, backlogAtLoadEnd: 0 }, 250),
    ).toMatchObject({ judgeable: false, differencePercent: 0 });
  });

  it("has nothing to say without a drain, a backlog figure or a ceiling", () => {
    const drained = { drained: true, waitedMs: 1_000, reservedAtEnd: 0, backlogAtLoadEnd: 250 };
    expect(drainCheck(null, 250)).toBeNull();
    expect(drainCheck({ ...drained, drained: false }, 250)).toBeNull();
    expect(drainCheck({ drained: true, waitedMs: 1_000, reservedAtEnd: 0 }, 250)).toBeNull();
    expect(drainCheck(drained, null)).toBeNull();
  });
});

describe("peak shaving of one run", () => {
  const options = resolveBenchOptions("flash-sale", { writeRate: "250", batchSize: "25" });
  const run = craftedRun("floodgate", 1, 7000, 40, {
    serverSeries: series([
      { writes: 250 },
      { accepted: 3000, writes: 300, queue: 1200 },
      { accepted: 1000, writes: 250, queue: 1500 },
      { writes: 250, queue: 1375 },
    ]),
    drain: { drained: true, waitedMs: 5_800, reservedAtEnd: 0, backlogAtLoadEnd: 1_375 },
  });

  it("reads intake peak, write excess and drain from the run", () => {
    expect(peakShavingOf(options, run)).toEqual({
      peakAcceptedPerSecond: 3000,
      peakDbWritesPerSecond: 300,
      writeCeiling: 250,
      samplesOverCeiling: 1,
      samples: 3,
      peakQueueDepth: 1500,
      intakePeakMultiple: 12,
      burstAllowance: 25,
      maxExcessOrders: 25,
      writeCeilingHeld: true,
      drain: {
        backlogOrders: 1_375,
        expectedSeconds: 5.5,
        measuredSeconds: 5.8,
        differencePercent: 5.5,
        judgeable: true,
        pass: true,
      },
    });
  });

  it("fails the ceiling when writes outrun it by more than one batch", () => {
    const over = { ...run, serverSeries: series([{}, { writes: 320 }, { writes: 300 }]) };
    // +35 then +25 orders: 60 above ceiling × time against one batch of 25.
    expect(peakShavingOf(options, over)).toMatchObject({ maxExcessOrders: 60, writeCeilingHeld: false });
  });

  it("says all of it in one line, with a verdict for each figure", () => {
    const line = describePeakShaving(peakShavingOf(options, run)!, 5.8);
    expect(line).toContain("intake peaked at 3,000 accepted orders/s = 12.0× the write ceiling (PASS ≥ 10×)");
    expect(line).toContain("database writes peaked at 300/s in a 500 ms sample vs ceiling 250/s");
    expect(line).toContain("at most 25 orders over any stretch, allowed 25 (one batch of burst): PASS");
    expect(line).toContain(
      "backlog written in 5.80 s vs backlog 1,375 ÷ 250/s = 5.50 s (+5.5 %; PASS within 20 %)",
    );
  });

  it("has no ceiling to judge with --write-rate 0, and nothing for catalog reads", () => {
    const none = resolveBenchOptions("flash-sale", { writeRate: "0" });
    const shaving = peakShavingOf(none, run)!;
    expect(shaving).toMatchObject({ writeCeiling: null, writeCeilingHeld: null, drain: null });
    expect(describePeakShaving(shaving, 5.8)).toContain("no write ceiling");
    expect(peakShavingOf(resolveBenchOptions("catalog-read", {}), run)).toBeNull();
  });
});
