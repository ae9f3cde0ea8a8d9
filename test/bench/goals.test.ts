import { describe, expect, it } from "vitest";
import { resolveBenchOptions } from "../../src/bench/options.js";
import {
  compareWithBaselines,
  evaluateGoals,
  summarizeTargets,
  throughputPerCoreOf,
} from "../../src/bench/report/build-report.js";
import { describeGoalFigures, describeP99AtFraction } from "../../src/bench/report/goal-lines.js";
import type { BenchReport, Calibration, RunRecord } from "../../src/bench/report/result-types.js";
import { rateAtFraction } from "../../src/bench/run-bench.js";
import { craftedRun, sample } from "./run-fixture.js";

const onInfra = (raw: Parameters<typeof resolveBenchOptions>[1] = {}) =>
  resolveBenchOptions("flash-sale", { infra: "redis-jetstream", ...raw });

/** A Floodgate run whose telemetry shows a burst of `peak` accepted/s and writes at `writes`/s. */
function shavedRun(
  index: number,
  peak: number,
  writes: number,
  drain: { waitedMs: number; backlog: number },
) {
  return craftedRun("floodgate", index, 7000, 20, {
    serverSeries: [
      sample(10_000),
      sample(10_500, { accepted: peak, writes, queue: 1000 }),
      sample(11_000, { writes: 250, queue: 900 }),
    ],
    drain: { drained: true, waitedMs: drain.waitedMs, reservedAtEnd: 0, backlogAtLoadEnd: drain.backlog },
  });
}

describe("CPU per request when the target works through servers", () => {
  it("counts the servers' CPU with the target's", () => {
    const run = craftedRun("floodgate", 1, 6000, 20);
    expect(throughputPerCoreOf(run)).toBe(6000);
    expect(throughputPerCoreOf({ ...run, cpu: { ...run.cpu, targetCores: 1, serverCores: 0.5 } })).toBe(4000);
    expect(throughputPerCoreOf({ ...run, cpu: { ...run.cpu, targetCores: null } })).toBeNaN();
  });
});

describe("issue 5's goals, for a target on Redis + JetStream", () => {
  const runs: RunRecord[] = [
    shavedRun(1, 3000, 300, { waitedMs: 4_400, backlog: 1_000 }),
    craftedRun("ceiling", 1, 20_000, 5),
    craftedRun("naive", 1, 600, 150),
    shavedRun(2, 2600, 260, { waitedMs: 4_100, backlog: 1_000 }),
    craftedRun("ceiling", 2, 21_000, 5),
    craftedRun("naive", 2, 650, 140),
  ];

  it("judges throughput against ceiling and naive, the ceiling, the intake peak and the drain", () => {
    const options = onInfra({ compare: "ceiling,naive" });
    const summaries = summarizeTargets(runs);
    const goals = evaluateGoals(options, compareWithBaselines(summaries), summaries, { runs });
    expect(goals.map((g) => [g.goal, g.measured, g.required, g.met])).toEqual([
      ["flash-sale intake throughput ≥ 35% of ceiling (Redis + JetStream)", 0.341, 0.35, false],
      ["flash-sale intake throughput ≥ 10× naive (Redis + JetStream)", 11.2, 10, true],
      ["flash-sale p99 ≤ 25 ms at 80% of the maximum throughput", null, 25, null],
      [
        "database writes never above the write ceiling (beyond one batch of burst), in every run",
        25,
        25,
        true,
      ],
      ["intake peak ≥ 10× the write ceiling, in every run", 10.4, 10, true],
      ["drain time within 20% of backlog ÷ ceiling, in every run", 10, 20, true],
    ]);
    expect(goals[2]!.note).toContain("--at-fraction-of-max 0.8");
    expect(describeGoalFigures(goals[3]!)).toBe("25 orders (needs ≤ 25 orders)");
    expect(describeGoalFigures(goals[5]!)).toBe("10.0 % (needs ≤ 20.0 %)");
  });

  it("keeps the embedded goals for an embedded target", () => {
    const summaries = summarizeTargets(runs);
    const goals = evaluateGoals(
      resolveBenchOptions("flash-sale", { compare: "ceiling,naive" }),
      compareWithBaselines(summaries),
      summaries,
      { runs },
    );
    expect(goals.map((g) => g.goal)).toEqual([
      "embedded flash-sale intake throughput ≥ 10× naive",
      "embedded flash-sale burst p99 ≥ 10× lower than naive",
    ]);
  });

  it("cannot judge peak shaving without a ceiling", () => {
    const goals = evaluateGoals(onInfra({ writeRate: "0" }), [], [], { runs });
    expect(goals.slice(3).map((g) => [g.met, g.note])).toEqual([
      [null, "not measured: --write-rate 0 sets no ceiling"],
      [null, "not measured: --write-rate 0 sets no ceiling"],
      [null, "not measured: --write-rate 0 sets no ceiling"],
    ]);
  });
});

describe("p99 at a fraction of the maximum", () => {
  const calibration: Calibration = {
    fraction: 0.8,
    model: { kind: "closed", connections: 100 },
    runs: [
      craftedRun("floodgate", 1, 6000, 40),
      craftedRun("floodgate", 2, 6400, 42),
      craftedRun("floodgate", 3, 5800, 39),
    ],
    maxRps: 6000,
    rate: rateAtFraction(6000, 0.8),
  };
  const open = (index: number, p99: number) => ({
    ...craftedRun("floodgate", index, 4800, p99),
    generator: {
      ...craftedRun("floodgate", index, 4800, p99).generator,
      model: "open" as const,
      sendLagMs: { count: 1, mean: 0.1, p50: 0.1, p90: 0.2, p99: 0.5, p999: 1, max: 2 },
    },
  });

  it("derives the open model's rate from the closed-model median", () => {
    expect(rateAtFraction(6000, 0.8)).toBe(4800);
    expect(rateAtFraction(1234.6, 0.5)).toBe(617);
    expect(rateAtFraction(0.4, 0.5)).toBe(1);
  });

  it("judges the median p99 of the open-model runs against 25 ms at 0.8", () => {
    const runs = [open(1, 18), open(2, 30), open(3, 21)];
    const summaries = summarizeTargets(runs);
    const options = {
      ...onInfra(),
      model: { kind: "open" as const, connections: 100, rate: 4800 },
      fractionOfMax: 0.8,
    };
    const [, , p99] = evaluateGoals(options, [], summaries, { runs, calibration });
    expect(p99).toMatchObject({ measured: 21, required: 25, met: true, unit: "ms", atMost: true });
    expect(p99!.note).toContain("4800 req/s = 0.8 × 6000 req/s");
    const slow = [open(1, 26), open(2, 30), open(3, 21)];
    const [, , missed] = evaluateGoals(options, [], summarizeTargets(slow), { runs: slow, calibration });
    expect(missed).toMatchObject({ measured: 26, met: false });
    const half = evaluateGoals(options, [], summaries, {
      runs,
      calibration: { ...calibration, fraction: 0.5 },
    });
    expect(half[2]).toMatchObject({ measured: null, met: null });
  });

  it("prints the maximum, the rate and the p99 in one line", () => {
    const runs = [open(1, 18), open(2, 30), open(3, 21)];
    const report = {
      runs,
      summaries: summarizeTargets(runs),
      calibration,
    } as unknown as BenchReport;
    const line = describeP99AtFraction(report)!;
    expect(line).toContain(
      "p99 at 80% of max: maximum 6,000 req/s (closed model, 100 connections, median of 3 run(s)",
    );
    expect(line).toContain(
      "open model at 4,800 req/s: Floodgate p99 21.0 ms (median of 3 run(s): 18.0 · 30.0 · 21.0 ms)",
    );
    expect(line).toContain("generator send lag p99 0.50 · 0.50 · 0.50 ms");
    expect(line).toMatch(/PASS \(≤ 25 ms\)$/);
    expect(describeP99AtFraction({ ...report, calibration: null })).toBeNull();
  });
});
