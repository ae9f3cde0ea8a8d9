import type { TelemetrySample } from "../../platform/observability/telemetry.js";
import { representativeRun } from "./build-report.js";
import type { BenchReport, RunRecord } from "./result-types.js";

/** One chart, ready for uPlot: a shared x axis (seconds since the load started) and its series. */
export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly yLabel: string;
  readonly x: number[];
  readonly series: {
    readonly label: string;
    readonly color: string;
    readonly values: (number | null)[];
    readonly dash?: number[];
  }[];
}

const COLORS = {
  accepted: "#1b9e4b",
  rejected: "#d95f02",
  writes: "#2563eb",
  ceiling: "#111827",
  queue: "#7c3aed",
  p50: "#0f766e",
  p90: "#ca8a04",
  p99: "#dc2626",
  ratio: "#2563eb",
  lag: "#9333ea",
  available: "#1b9e4b",
  reserved: "#ca8a04",
  sold: "#2563eb",
};
const RUN_COLORS = ["#2563eb", "#dc2626", "#1b9e4b", "#9333ea", "#ca8a04", "#0f766e", "#d95f02", "#111827"];

const seconds = (at: number, start: number) => Math.round(((at - start) / 1000) * 100) / 100;

function serverCharts(report: BenchReport, run: RunRecord, samples: readonly TelemetrySample[]): ChartSpec[] {
  const start = run.generator.startedAt;
  const x = samples.map((sample) => seconds(sample.at, start));
  const loadEnds = seconds(start + run.generator.durationMs, start);
  const where = `Floodgate run ${run.run}; the load ran from 0 to ${loadEnds} s, the rest is the drain`;
  const charts: ChartSpec[] = [];
  const writeRate = report.options.url === null ? report.options.writeRate : 0;
  if (report.scenario !== "catalog-read") {
    charts.push({
      id: "intake",
      title: "Accepted orders vs database writes (per second, 500 ms samples)",
      caption: `${where}. Peak shaving: acceptance spikes, the order worker writes at a flat rate under its ceiling. Refusals are drawn below, on their own scale.`,
      yLabel: "orders / s",
      x,
      series: [
        { label: "accepted", color: COLORS.accepted, values: samples.map((s) => s.acceptedPerSecond) },
        { label: "database writes", color: COLORS.writes, values: samples.map((s) => s.dbWritesPerSecond) },
        ...(writeRate > 0
          ? [
              {
                label: "write ceiling",
                color: COLORS.ceiling,
                values: samples.map(() => writeRate),
                dash: [6, 4],
              },
            ]
          : []),
      ],
    });
    charts.push({
      id: "queue",
      title: "Queue depth (orders accepted, not yet written)",
      caption: `${where}. The backlog rises during the burst and drains at the write rate.`,
      yLabel: "messages",
      x,
      series: [{ label: "queue depth", color: COLORS.queue, values: samples.map((s) => s.queueDepth) }],
    });
    const sku = run.seeding?.sku ?? "";
    if (sku !== "") {
      const level = (s: TelemetrySample) => s.stock[sku];
      charts.push({
        id: "stock",
        title: `Stock of ${sku}`,
        caption: `${where}. Reserved units become sold as the worker writes their orders.`,
        yLabel: "units",
        x,
        series: [
          {
            label: "available",
            color: COLORS.available,
            values: samples.map((s) => level(s)?.available ?? null),
          },
          {
            label: "reserved",
            color: COLORS.reserved,
            values: samples.map((s) => level(s)?.reserved ?? null),
          },
          { label: "sold", color: COLORS.sold, values: samples.map((s) => level(s)?.sold ?? null) },
        ],
      });
    }
  }
  charts.push({
    id: "server-requests",
    title: "Requests handled by the target (per second, 500 ms samples)",
    caption: `${where}. Refused: order requests answered with a refusal (sold out, over the limit…).`,
    yLabel: "requests / s",
    x,
    series: [
      { label: "all requests", color: COLORS.writes, values: samples.map((s) => s.requestsPerSecond) },
      ...(report.scenario === "catalog-read"
        ? []
        : [
            {
              label: "refused orders",
              color: COLORS.rejected,
              values: samples.map((s) => s.rejectedPerSecond),
            },
          ]),
    ],
  });
  charts.push({
    id: "cache",
    title: "Catalog cache hit ratio",
    caption: `${where}. Gaps: no product lookups in that sample.`,
    yLabel: "hits / lookups",
    x,
    series: [{ label: "hit ratio", color: COLORS.ratio, values: samples.map((s) => s.cacheHitRatio) }],
  });
  charts.push({
    id: "lag",
    title: "Event-loop lag of the target (p99 per 500 ms)",
    caption: `${where}. Time work waited for the single JavaScript thread.`,
    yLabel: "ms",
    x,
    series: [{ label: "event-loop lag", color: COLORS.lag, values: samples.map((s) => s.eventLoopLagMs) }],
  });
  return charts;
}

function latencyChart(run: RunRecord): ChartSpec {
  const start = run.generator.startedAt;
  const points = run.generator.series;
  return {
    id: "latency",
    title: "Latency per second, as the generator saw it",
    caption: `Floodgate run ${run.run}; percentiles of the responses completed in each second${
      run.generator.model === "open" ? ", measured from each request's intended send time" : ""
    }.`,
    yLabel: "ms",
    x: points.map((point) => seconds(point.at, start)),
    series: [
      { label: "p50", color: COLORS.p50, values: points.map((p) => p.p50) },
      { label: "p90", color: COLORS.p90, values: points.map((p) => p.p90) },
      { label: "p99", color: COLORS.p99, values: points.map((p) => p.p99) },
    ],
  };
}

/** Generator-side throughput of every run on one chart: Floodgate next to its baselines. */
function throughputChart(runs: readonly RunRecord[]): ChartSpec {
  const longest = Math.max(0, ...runs.map((run) => run.generator.series.length));
  return {
    id: "throughput",
    title: "Throughput per second of every run (generator side)",
    caption:
      "Responses per second as the load generator counted them, second by second, for every target and run.",
    yLabel: "responses / s",
    x: Array.from({ length: longest }, (_, i) => i + 1),
    series: runs.map((run, index) => ({
      label: `${run.target} #${run.run}`,
      color: RUN_COLORS[index % RUN_COLORS.length]!,
      values: Array.from({ length: longest }, (_, i) => run.generator.series[i]?.requestsPerSecond ?? null),
    })),
  };
}

export function buildCharts(report: BenchReport): ChartSpec[] {
  const charts: ChartSpec[] = [];
  const floodgate = representativeRun(report.runs, "floodgate");
  if (floodgate?.serverSeries && floodgate.serverSeries.length > 0) {
    charts.push(...serverCharts(report, floodgate, floodgate.serverSeries));
  }
  if (floodgate) charts.splice(Math.min(2, charts.length), 0, latencyChart(floodgate));
  charts.push(throughputChart(report.runs));
  return charts;
}
