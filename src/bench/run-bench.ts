import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BENCH_AUTH_SECRET, runningServerSecret } from "./auth-secret.js";
import { describeEnvironment } from "./environment.js";
import type { BenchOptions } from "./options.js";
import { ProgressReporter, type ProgressStream } from "./progress.js";
import { compareWithBaselines, evaluateGoals, summarizeTargets } from "./report/build-report.js";
import { renderHtmlReport } from "./report/html-report.js";
import { renderMarkdownSummary } from "./report/markdown-summary.js";
import type { BenchReport, RunRecord } from "./report/result-types.js";
import { renderSummary } from "./report/summary-table.js";
import { runBaselineOnce } from "./run-baseline.js";
import type { RunContext } from "./run-context.js";
import { runFloodgateOnce } from "./run-floodgate.js";

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
export async function runBench(
  options: BenchOptions,
  output: BenchOutput,
  command: string,
): Promise<BenchOutcome> {
  const date = new Date();
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const context: RunContext = {
    options,
    authSecret: options.url ? runningServerSecret() : BENCH_AUTH_SECRET,
    outDir,
    filePrefix: `${options.scenario}-${fileStamp(date)}`,
    progress: new ProgressReporter(output.stderr),
  };
  const environment = describeEnvironment();
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
  const audited = runs.filter((run) => run.invariants !== null);
  const report: BenchReport = {
    schemaVersion: 1,
    command,
    scenario: options.scenario,
    date: date.toISOString(),
    options,
    environment,
    floodgateTarget: options.url ?? "embedded, started by the bench as a child process",
    runs,
    summaries,
    comparisons,
    goals: evaluateGoals(options, comparisons, summaries),
    invariantsPassed:
      audited.length === 0 ? null : audited.every((run) => run.invariants!.every((i) => i.pass)),
    files: {
      json: join(outDir, `${context.filePrefix}.json`),
      html: join(outDir, `${context.filePrefix}.html`),
      markdown: join(outDir, `${context.filePrefix}.md`),
      cpuProfiles: runs.flatMap((run) => (run.cpuProfile ? [run.cpuProfile.file] : [])),
    },
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(report.files.json, json);
  writeFileSync(report.files.html, renderHtmlReport(report));
  writeFileSync(report.files.markdown, renderMarkdownSummary(report));
  output.stdout.write(options.jsonOnly ? json : renderSummary(report));
  return { report, exitCode: report.invariantsPassed === false ? 1 : 0 };
}
