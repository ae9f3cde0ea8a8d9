import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BENCH_AUTH_SECRET } from "../auth-secret.js";
import { type BenchEnvironment, describeEnvironment } from "../environment.js";
import { ProgressReporter, type ProgressStream } from "../progress.js";
import { roundTo } from "../stats.js";
import { describeTargetAdapters } from "../target/target-adapters.js";
import {
  type HeapFlatness,
  heapFlatness,
  perSecond,
  type RetainedBytes,
  retainedBytesPerOrder,
  SOAK_TARGETS,
  windowStart,
} from "./soak-figures.js";
import type { SoakOptions } from "./soak-options.js";
import { mb, runSoak, type SoakPoint, type SoakRunResult } from "./soak-run.js";

export interface SoakGoal {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | null;
}

export interface SoakReport {
  readonly schemaVersion: 1;
  readonly command: string;
  readonly scenario: "soak";
  readonly date: string;
  readonly options: SoakOptions;
  readonly environment: BenchEnvironment;
  readonly floodgateTarget: string;
  readonly run: SoakRunResult;
  /** Sweeper seconds per second of wall time over each interval between checkpoints (null: n/a). */
  readonly sweepSecondsPerSecond: readonly (number | null)[];
  readonly retained: RetainedBytes | null;
  readonly flatness: HeapFlatness | null;
  readonly goals: readonly SoakGoal[];
  readonly files: { readonly json: string; readonly markdown: string };
}

/** Heap after GC against stored orders: each checkpoint's orders and heap. */
const heapPoints = (points: readonly SoakPoint[]) =>
  points.flatMap((point) =>
    point.stored === null ? [] : [{ orders: point.stored, heapUsed: point.heapUsed }],
  );

export function evaluateSoakGoals(
  options: SoakOptions,
  run: SoakRunResult,
  retained: RetainedBytes | null,
  flatness: HeapFlatness | null,
  sweep: readonly (number | null)[],
): SoakGoal[] {
  const from = windowStart(options.orders);
  const allGc = run.points.every((point) => point.gc);
  const gcNote = allGc ? "" : " (heap read without a forced GC: not comparable)";
  const shortNote =
    options.orders >= 1_000_000
      ? ""
      : ` (this run: ${options.orders.toLocaleString("en-US")} orders, not 1,000,000)`;
  const known = sweep.filter((value): value is number => value !== null);
  const restarts = run.restarts;
  return [
    {
      goal: `Bytes retained per settled order ≤ ${SOAK_TARGETS.retainedBytesPerOrder} after a forced GC (slope from ${from.toLocaleString("en-US")} orders to the end)`,
      measured:
        retained === null
          ? "n/a (fewer than two checkpoints in the window)"
          : `${roundTo(retained.slopeBytesPerOrder, 1)} bytes/order (ends only: ${roundTo(retained.endToEndBytesPerOrder, 1)})${shortNote}${gcNote}`,
      met:
        retained === null || !allGc
          ? null
          : retained.slopeBytesPerOrder <= SOAK_TARGETS.retainedBytesPerOrder,
    },
    {
      goal: `Heap after GC flat within ${SOAK_TARGETS.heapFlatWithin * 100} % from ${from.toLocaleString("en-US")} orders to the end`,
      measured:
        flatness === null
          ? "n/a"
          : `${mb(flatness.minBytes)} to ${mb(flatness.maxBytes)}: ${roundTo(flatness.spread * 100, 1)} %${shortNote}${gcNote}`,
      met: flatness === null || !allGc ? null : flatness.flat,
    },
    {
      goal: "Sweeper CPU per second independent of the number of settled orders",
      measured:
        known.length === 0
          ? "n/a (the target exposes no inventory_sweep_seconds_total)"
          : `${known.map((value) => `${roundTo(value * 1000, 2)}`).join(", ")} ms/s over the intervals`,
      met: null,
    },
    {
      goal: "Restart time independent of history",
      measured: restarts
        .map(
          (restart) =>
            `${restart.readyMs} ms at ${restart.storedOrders?.toLocaleString("en-US") ?? "?"} orders`,
        )
        .join(", "),
      met: null,
    },
  ];
}

const fmtMs = (value: number | null) => (value === null ? "n/a" : `${roundTo(value * 1000, 2)} ms/s`);

/** The Markdown summary (also what the terminal shows). */
export function renderSoakSummary(report: SoakReport): string {
  const { options, run, environment } = report;
  const redis = run.points.some((point) => point.redisStock !== null);
  const lines = [
    `## floodgate bench soak — ${report.date}`,
    "",
    `\`${report.command}\``,
    "",
    `${options.orders.toLocaleString("en-US")} orders accepted by one Floodgate (${report.floodgateTarget}), one sale of ${options.stock.toLocaleString("en-US")} units, ${options.buyers.toLocaleString("en-US")} buyers, ${options.connections} connections, a checkpoint every ${options.every.toLocaleString("en-US")} orders (drained, then heap after a forced GC). Commit ${environment.commit?.slice(0, 7) ?? "?"}${environment.dirty ? " (uncommitted changes)" : ""}, ${environment.cpus} × ${environment.cpuModel}, Node ${environment.node}. Load ${run.loadSeconds} s, wall ${run.wallSeconds} s; answers ${JSON.stringify(run.statusCounts)}${Object.keys(run.transportErrors).length ? `, transport errors ${JSON.stringify(run.transportErrors)}` : ""}.`,
    "",
    `| accepted | stored | heap after GC | RSS | orders/s (batch) | drain | sweeper (interval) |${redis ? " stock in Redis (the run's keys) |" : ""}`,
    `| ---: | ---: | ---: | ---: | ---: | ---: | ---: |${redis ? " ---: |" : ""}`,
    ...run.points.map(
      (point, i) =>
        `| ${point.accepted.toLocaleString("en-US")} | ${point.stored?.toLocaleString("en-US") ?? "?"} | ${mb(point.heapUsed)}${point.gc ? "" : " (no GC)"} | ${mb(point.rss)} | ${point.ordersPerSecond ?? "—"} | ${(point.drainMs / 1000).toFixed(1)} s | ${i === 0 ? "—" : fmtMs(report.sweepSecondsPerSecond[i - 1] ?? null)} |${redis ? ` ${point.redisStock ? `${point.redisStock.keys.toLocaleString("en-US")} keys, ${mb(point.redisStock.bytes)}` : "?"} |` : ""}`,
    ),
    "",
    "| restart at stored orders | stop | ready after spawn | heap after GC once ready | RSS |",
    "| ---: | ---: | ---: | ---: | ---: |",
    ...run.restarts.map(
      (restart) =>
        `| ${restart.storedOrders?.toLocaleString("en-US") ?? "?"} | ${restart.stopMs} ms | ${restart.readyMs} ms | ${mb(restart.heapUsedAfterStart)} | ${mb(restart.rssAfterStart)} |`,
    ),
    "",
    "Goals:",
    "",
    ...report.goals.map(
      (goal) =>
        `- ${goal.met === null ? "n/a " : goal.met ? "MET " : "NOT MET "}— ${goal.goal}: ${goal.measured}`,
    ),
    "",
    `Results: ${report.files.json}`,
    "",
  ];
  return `${lines.join("\n")}\n`;
}

function fileStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll(":", "-");
}

/** `floodgate bench soak`: one soak run, its figures against the targets, the JSON and the summary. */
export async function runSoakBench(
  options: SoakOptions,
  output: { stdout: { write(text: string): unknown }; stderr: ProgressStream },
  command: string,
): Promise<{ report: SoakReport; exitCode: number }> {
  const date = new Date();
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const environment = describeEnvironment();
  const run = await runSoak(options, BENCH_AUTH_SECRET, new ProgressReporter(output.stderr));
  const from = windowStart(options.orders);
  const retained = retainedBytesPerOrder(heapPoints(run.points), from);
  const flatness = heapFlatness(heapPoints(run.points), from);
  const sweepSecondsPerSecond = run.points
    .slice(1)
    .map((point, i) =>
      perSecond(
        { atMs: run.points[i]!.atMs, value: run.points[i]!.sweepSeconds },
        { atMs: point.atMs, value: point.sweepSeconds },
      ),
    );
  const prefix = `soak-${fileStamp(date)}`;
  const report: SoakReport = {
    schemaVersion: 1,
    command,
    scenario: "soak",
    date: date.toISOString(),
    options,
    environment,
    floodgateTarget: `started by the bench with node --expose-gc: ${describeTargetAdapters(options.targetEnv)}`,
    run,
    sweepSecondsPerSecond,
    retained,
    flatness,
    goals: evaluateSoakGoals(options, run, retained, flatness, sweepSecondsPerSecond),
    files: { json: join(outDir, `${prefix}.json`), markdown: join(outDir, `${prefix}.md`) },
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(report.files.json, json);
  const markdown = renderSoakSummary(report);
  writeFileSync(report.files.markdown, markdown);
  output.stdout.write(options.jsonOnly ? json : markdown);
  return { report, exitCode: 0 };
}
