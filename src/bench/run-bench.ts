import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BENCH_AUTH_SECRET, runningServerSecret } from "./auth-secret.js";
import { describeEnvironment } from "./environment.js";
import type { BenchOptions, LoadModel } from "./options.js";
import { ProgressReporter, type ProgressStream } from "./progress.js";
import { compareWithBaselines, evaluateGoals, summarizeTargets } from "./report/build-report.js";
import { renderHtmlReport } from "./report/html-report.js";
import { renderMarkdownSummary } from "./report/markdown-summary.js";
import type { BenchReport, Calibration, RunRecord } from "./report/result-types.js";
import { renderSummary } from "./report/summary-table.js";
import { runBaselineOnce } from "./run-baseline.js";
import type { RunContext } from "./run-context.js";
import { runFloodgateOnce } from "./run-floodgate.js";
import { median } from "./stats.js";
import { describeTargetAdapters } from "./target/target-adapters.js";

export interface BenchOutput {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: ProgressStream;
}

export interface BenchOutcome {
  readonly report: BenchReport;
  /** 0, or 1 when an invariant failed. */
  readonly exitCode: number;
}

/** 2025-01-01T12:00:00.000Z → 2025-01-01T12-00-00Z: sortable, and valid in any file name. */
function fileStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll(":", "-");
}

/**
 * Runs every repetition of Floodgate and of each baseline, interleaved (F, baselines, F, …) so
 * a slow drift of the machine affects all targets alike, then writes the JSON and the HTML report
 * and prints the summary (or the JSON alone with --json-only).
 */
/** The open model's rate for --at-fraction-of-max: that fraction of the closed-model maximum. */
export function rateAtFraction(maxRps: number, fraction: number): number {
  return Math.max(1, Math.round(maxRps * fraction));
}

/**
 * --at-fraction-of-max: Floodgate alone, closed model, `--runs` times (each run a fresh target, its
 * invariants checked like any other); the median req/s is the maximum the open model is a fraction of.
 */
async function calibrate(context: RunContext, fraction: number): Promise<Calibration> {
  const model: LoadModel = { kind: "closed", connections: context.options.model.connections };
  const closed: RunContext = { ...context, options: { ...context.options, model } };
  const runs: RunRecord[] = [];
  for (let run = 1; run <= context.options.runs; run++) {
    runs.push(await runFloodgateOnce(closed, run, { target: "floodgate", env: {}, calibration: true }));
  }
  const maxRps = median(runs.map((run) => run.throughputRps)) ?? 0;
  if (!(maxRps > 0)) throw new Error("the closed-model runs measured no throughput, so there is no maximum");
  const rate = rateAtFraction(maxRps, fraction);
  context.progress.note(
    `maximum ${Math.round(maxRps)} req/s (median of ${runs.length} closed-model runs); measuring the open model at ${fraction} × that = ${rate} req/s`,
    true,
  );
  return { fraction, model, runs, maxRps, rate };
}

export async function runBench(
  requested: BenchOptions,
  output: BenchOutput,
  command: string,
): Promise<BenchOutcome> {
  const date = new Date();
  const outDir = resolve(requested.outDir);
  mkdirSync(outDir, { recursive: true });
  const baseContext: RunContext = {
    options: requested,
    authSecret: requested.url ? runningServerSecret() : BENCH_AUTH_SECRET,
    outDir,
    filePrefix: `${requested.scenario}-${fileStamp(date)}`,
    progress: new ProgressReporter(output.stderr),
  };
  const environment = describeEnvironment();
  const calibration = requested.fractionOfMax ? await calibrate(baseContext, requested.fractionOfMax) : null;
  const options: BenchOptions = calibration
    ? {
        ...requested,
        model: { kind: "open", connections: requested.model.connections, rate: calibration.rate },
      }
    : requested;
  const context: RunContext = { ...baseContext, options };
  const runs: RunRecord[] = [];
  for (let run = 1; run <= options.runs; run++) {
    runs.push(await runFloodgateOnce(context, run));
    for (const baseline of options.compare) {
      runs.push(
        baseline === "uncached"
          ? await runFloodgateOnce(context, run, {
              target: "uncached",
              env: { FLOODGATE_CACHE_URL: "none://" },
            })
          : await runBaselineOnce(context, baseline, run),
      );
    }
  }
  const summaries = summarizeTargets(runs);
  const comparisons = compareWithBaselines(summaries);
  const audited = [...(calibration?.runs ?? []), ...runs].filter((run) => run.invariants !== null);
  const report: BenchReport = {
    schemaVersion: 1,
    command,
    scenario: options.scenario,
    date: date.toISOString(),
    options,
    environment,
    floodgateTarget:
      options.url ?? `started by the bench as a child process: ${describeTargetAdapters(options.targetEnv)}`,
    runs,
    summaries,
    comparisons,
    goals: evaluateGoals(options, comparisons, summaries, { runs, calibration }),
    calibration,
    invariantsPassed:
      audited.length === 0 ? null : audited.every((run) => run.invariants!.every((i) => i.pass)),
    files: {
      json: join(outDir, `${context.filePrefix}.json`),
      html: join(outDir, `${context.filePrefix}.html`),
      markdown: join(outDir, `${context.filePrefix}.md`),
      cpuProfiles: [...(calibration?.runs ?? []), ...runs].flatMap((run) =>
        run.cpuProfile ? [run.cpuProfile.file] : [],
      ),
    },
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(report.files.json, json);
  writeFileSync(report.files.html, renderHtmlReport(report));
  writeFileSync(report.files.markdown, renderMarkdownSummary(report));
  output.stdout.write(options.jsonOnly ? json : renderSummary(report));
  return { report, exitCode: report.invariantsPassed === false ? 1 : 0 };
}
