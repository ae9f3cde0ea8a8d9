import { describe, expect, it } from "vitest";
import type { LatencySummary } from "../../src/bench/latency.js";
import { resolveBenchOptions } from "../../src/bench/options.js";
import {
  compareWithBaselines,
  evaluateGoals,
  representativeRun,
  summarizeTargets,
} from "../../src/bench/report/build-report.js";
import type { RunRecord } from "../../src/bench/report/result-types.js";
import { median, ratio, roundTo } from "../../src/bench/stats.js";

describe("median and ratio", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNull();
    expect(median([Number.NaN, 5, Number.POSITIVE_INFINITY])).toBe(5);
  });

  it("divides only what can be divided", () => {
    expect(ratio(10, 4)).toBe(2.5);
    expect(ratio(null, 4)).toBeNull();
    expect(ratio(4, null)).toBeNull();
    expect(ratio(4, 0)).toBeNull();
    expect(ratio(4, -1)).toBeNull();
    expect(ratio(Number.NaN, 1)).toBeNull();
    expect(roundTo(2.34567, 2)).toBe(2.35);
  });
});

function latency(p99: number, p50 = p99 / 4): LatencySummary {
  return { count: 100, mean: p50, p50, p90: p99 / 2, p99, p999: p99 * 1.5, max: p99 * 2 };
}

function run(
  target: RunRecord["target"],
  index: number,
  rps: number,
  p99: number,
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    target,
    run: index,
    startedAt: "2025-01-01T00:00:00.000Z",
    throughputRps: rps,
    latencyMs: latency(p99),
    generator: {
      model: "closed",
      startedAt: 0,
      durationMs: 1000,
      sent: rps,
      completed: rps,
      throughputRps: rps,
      latencyMs: latency(p99),
      latencyByKindMs: {},
      statusCounts: { "202": 10, "409": rps - 10 },
      errorCodes: {},
      transportErrors: {},
      series: [],
      acceptedOrders: 10,
      cpu: { userMs: 400, systemMs: 100, wallMs: 1000, coresUsed: 0.5, processTotalMs: 900 },
      sendLagMs: null,
      truncated: false,
    },
    serverSeries: null,
    cpu: {
      wallMs: 1200,
      machineCores: 1.9,
      targetCores: 0.95,
      generatorCores: 0.75,
      benchCores: 0.02,
      otherCores: 0.18,
    },
    seeding: null,
    warmUp: null,
    drain: null,
    invariants: null,
    cpuProfile: null,
    targetExit: null,
    ...extra,
  };
}

describe("summaries, comparisons and goals", () => {
  const runs = [
    run("floodgate", 1, 5000, 20),
    run("naive", 1, 400, 300),
    run("floodgate", 2, 6000, 10),
    run("naive", 2, 500, 250),
    run("floodgate", 3, 4000, 30),
    run("naive", 3, 450, 200),
  ];

  /** The same run with two 503s and a connection reset among its answers. */
  const failing = (record: RunRecord): RunRecord => ({
    ...record,
    generator: {
      ...record.generator,
      statusCounts: { "202": 10, "409": record.throughputRps - 12, "503": 2 },
      transportErrors: { ECONNRESET: 1 },
    },
  });

  it("reports medians per target, in a fixed target order", () => {
    const summaries = summarizeTargets(runs.map(failing));
    expect(summaries.map((s) => s.target)).toEqual(["floodgate", "naive"]);
    const [floodgate, naive] = summaries;
    expect(floodgate).toMatchObject({
      runs: 3,
      throughputRps: 5000,
      errors: 3,
      generatorCoresUsed: 0.5,
      targetCores: 0.95,
      otherCores: 0.18,
    });
    expect(floodgate!.latencyMs.p99).toBe(20);
    expect(naive).toMatchObject({ throughputRps: 450 });
    expect(naive!.latencyMs.p99).toBe(250);
    // 5000 completed over 0.5 s of generator CPU.
    expect(floodgate!.generatorCapacityRps).toBe(10_000);
  });

  it("divides Floodgate's throughput by the baseline's, and the baseline's p99 by Floodgate's", () => {
    const summaries = summarizeTargets(runs);
    // Every crafted run used 0.95 cores of target CPU: 5000 / 0.95 per core for Floodgate.
    expect(summaries[0]!.throughputPerCore).toBe(5263);
    expect(compareWithBaselines(summaries)).toEqual([
      { baseline: "naive", throughputRatio: 11.111, throughputPerCoreRatio: 11.103, p99LatencyRatio: 12.5 },
    ]);
  });

  it("judges the brief's flash-sale goals from those ratios", () => {
    const options = resolveBenchOptions("flash-sale", { compare: "naive" });
    const summaries = summarizeTargets(runs);
    const goals = evaluateGoals(options, compareWithBaselines(summaries), summaries);
    expect(goals.map((g) => [g.measured, g.required, g.met])).toEqual([
      [11.111, 10, true],
      [12.5, 10, true],
    ]);
    const missed = evaluateGoals(
      options,
      [{ baseline: "naive", throughputRatio: 3, throughputPerCoreRatio: 3, p99LatencyRatio: 9.99 }],
      summaries,
    );
    expect(missed.map((g) => g.met)).toEqual([false, false]);
  });

  it("does not count a goal as met while Floodgate failed requests", () => {
    const options = resolveBenchOptions("flash-sale", { compare: "naive" });
    const summaries = summarizeTargets(
      runs.map((record) => (record.target === "floodgate" ? failing(record) : record)),
    );
    const goals = evaluateGoals(options, compareWithBaselines(summaries), summaries);
    expect(goals.map((g) => [g.measured, g.met])).toEqual([
      [11.111, false],
      [12.5, false],
    ]);
    expect(goals[0]!.note).toContain("failed 3 requests");
  });

  it("judges the accept path against the ceiling: throughput and CPU per request", () => {
    const options = resolveBenchOptions("accept", { compare: "ceiling" });
    const summaries = summarizeTargets([
      run("floodgate", 1, 9000, 5),
      run("ceiling", 1, 30_000, 2, {
        cpu: {
          wallMs: 1200,
          machineCores: 1.9,
          targetCores: 0.5,
          generatorCores: 0.75,
          benchCores: 0,
          otherCores: 0,
        },
      }),
    ]);
    const [throughput, cpu] = evaluateGoals(options, compareWithBaselines(summaries), summaries);
    expect(throughput).toMatchObject({ measured: 0.3, required: 0.3, met: true });
    // Floodgate: 0.95 cores for 9,000 req/s; the ceiling 0.5 for 30,000: 6.3× the CPU per request.
    expect(cpu).toMatchObject({ required: 4, atMost: true, met: false });
    expect(cpu!.measured).toBeCloseTo(6.33, 1);
  });

  it("compares per core of target CPU when the generator was the bottleneck", () => {
    const busyGenerator = (record: RunRecord): RunRecord => ({
      ...record,
      generator: { ...record.generator, cpu: { ...record.generator.cpu, coresUsed: 0.97 } },
      cpu: { ...record.cpu, targetCores: 0.5 },
    });
    const bound = [run("floodgate", 1, 30_000, 5), busyGenerator(run("ceiling", 1, 31_000, 4))];
    const summaries = summarizeTargets(bound);
    const [goal] = evaluateGoals(
      resolveBenchOptions("catalog-read", { compare: "ceiling" }),
      compareWithBaselines(summaries),
      summaries,
    );
    // 30,000 / 0.95 against 31,000 / 0.5 per core.
    expect(goal).toMatchObject({ measured: 0.509, required: 0.6, met: false });
    expect(goal!.note).toContain("per core");
  });

  it("does not judge throughput in the open model when Floodgate served the whole offered rate", () => {
    const options = resolveBenchOptions("flash-sale", { compare: "naive", rate: "5000" });
    const summaries = summarizeTargets(runs);
    const [throughput, p99] = evaluateGoals(options, compareWithBaselines(summaries), summaries);
    expect(throughput).toMatchObject({ measured: null, met: null });
    expect(throughput!.note).toContain("open model");
    expect(p99).toMatchObject({ measured: 12.5, met: true });
  });

  it("cannot judge a goal whose baseline was not run, or a --url target", () => {
    const unmeasured = evaluateGoals(resolveBenchOptions("catalog-read", {}), [], []);
    expect(unmeasured).toHaveLength(2);
    expect(unmeasured[0]).toMatchObject({ measured: null, required: 0.6, met: null });
    expect(unmeasured[1]).toMatchObject({ measured: null, required: 10, met: null });
    expect(unmeasured[1]?.note).toContain("--compare uncached");
    const summaries = summarizeTargets([run("floodgate", 1, 900, 5), run("ceiling", 1, 1000, 4)]);
    const external = evaluateGoals(
      resolveBenchOptions("catalog-read", { url: "http://127.0.0.1:8080", compare: "ceiling" }),
      compareWithBaselines(summaries),
      summaries,
    );
    expect(external[0]).toMatchObject({ measured: 0.9, met: null });
    expect(evaluateGoals(resolveBenchOptions("mixed", {}), [], [])).toEqual([]);
  });

  it("judges catalog reads against the uncached baseline", () => {
    const summaries = summarizeTargets([run("floodgate", 1, 2000, 5), run("uncached", 1, 100, 40)]);
    const goals = evaluateGoals(
      resolveBenchOptions("catalog-read", { compare: "uncached" }),
      compareWithBaselines(summaries),
      summaries,
    );
    expect(goals[1]).toMatchObject({ measured: 20, required: 10, met: true });
  });

  it("draws the run with the median throughput", () => {
    expect(representativeRun(runs, "floodgate")?.run).toBe(1);
    expect(representativeRun(runs, "ceiling")).toBeUndefined();
  });
});
