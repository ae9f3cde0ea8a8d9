import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BENCH_AUTH_SECRET } from "../auth-secret.js";
import { type BenchEnvironment, describeEnvironment } from "../environment.js";
import { ProgressReporter, type ProgressStream } from "../progress.js";
import { median, ratio, roundTo } from "../stats.js";
import { describeTargetAdapters } from "../target/target-adapters.js";
import { type LifecycleRunContext, runFloodgateLifecycle } from "./lifecycle-floodgate.js";
import type { LifecycleOptions } from "./lifecycle-options.js";
import type { LifecycleRunRecord } from "./lifecycle-record.js";
import { runSyncLifecycle } from "./sync-run.js";

/** The targets of issue 9, judged against the medians. */
export const LIFECYCLE_TARGETS = {
  webhookP99Ratio: 10,
  burst: 2000,
  completedPerSecondServers: 300,
  completedPerSecondEmbedded: 150,
} as const;

export interface LifecycleSummary {
  readonly target: "floodgate" | "sync";
  readonly runs: number;
  readonly webhookP50Ms: number | null;
  readonly webhookP99Ms: number | null;
  readonly webhookServerP99UpperBoundMs: number | null;
  readonly emailP50Ms: number | null;
  readonly emailP99Ms: number | null;
  readonly completedPerSecond: number | null;
  readonly paidPerSecond: number | null;
  readonly drainSeconds: number | null;
  readonly invariantsPassed: boolean;
}

export interface LifecycleGoal {
  readonly goal: string;
  readonly measured: string;
  readonly met: boolean | null;
}

export interface LifecycleReport {
  readonly schemaVersion: 1;
  readonly command: string;
  readonly scenario: "lifecycle";
  readonly date: string;
  readonly options: LifecycleOptions;
  readonly environment: BenchEnvironment;
  readonly floodgateTarget: string;
  readonly runs: readonly LifecycleRunRecord[];
  readonly summaries: readonly LifecycleSummary[];
  /** Median sync webhook p99 ÷ median Floodgate webhook p99; null without --compare sync. */
  readonly webhookP99Ratio: number | null;
  readonly goals: readonly LifecycleGoal[];
  readonly invariantsPassed: boolean;
  readonly files: { readonly json: string; readonly markdown: string };
}

const med = (runs: readonly LifecycleRunRecord[], pick: (run: LifecycleRunRecord) => number | null) =>
  median(runs.map(pick).filter((value): value is number => value !== null));

export function summarizeLifecycle(runs: readonly LifecycleRunRecord[]): LifecycleSummary[] {
  return (["floodgate", "sync"] as const).flatMap((target) => {
    const mine = runs.filter((run) => run.target === target);
    if (mine.length === 0) return [];
    return [
      {
        target,
        runs: mine.length,
        webhookP50Ms: med(mine, (run) => run.webhook.p50Ms),
        webhookP99Ms: med(mine, (run) => run.webhook.p99Ms),
        webhookServerP99UpperBoundMs: med(mine, (run) => run.webhookServerP99UpperBoundMs),
        emailP50Ms: med(mine, (run) => run.confirmationEmail.p50Ms),
        emailP99Ms: med(mine, (run) => run.confirmationEmail.p99Ms),
        completedPerSecond: med(mine, (run) => run.completedPerSecond),
        paidPerSecond: med(mine, (run) => run.paidPerSecond),
        drainSeconds: med(mine, (run) => run.drainSeconds),
        invariantsPassed: mine.every((run) => run.invariants.every((invariant) => invariant.pass)),
      },
    ];
  });
}

/** Real servers: the database on PostgreSQL and the queue on NATS (what "servers" means in the targets). */
export function onServers(env: Readonly<Record<string, string>>): boolean {
  return env.FLOODGATE_DATABASE_URLS !== undefined && env.FLOODGATE_QUEUE_URL !== undefined;
}

export function evaluateLifecycleGoals(
  options: LifecycleOptions,
  summaries: readonly LifecycleSummary[],
  webhookP99Ratio: number | null,
): LifecycleGoal[] {
  const floodgate = summaries.find((summary) => summary.target === "floodgate");
  const allPass = summaries.every((summary) => summary.invariantsPassed);
  const servers = onServers(options.targetEnv);
  const throughputGoal = servers
    ? LIFECYCLE_TARGETS.completedPerSecondServers
    : LIFECYCLE_TARGETS.completedPerSecondEmbedded;
  const burstNote =
    options.buyers === LIFECYCLE_TARGETS.burst
      ? ""
      : ` (this burst: ${options.buyers}, not ${LIFECYCLE_TARGETS.burst})`;
  const goals: LifecycleGoal[] = [];
  if (options.compare.includes("sync")) {
    goals.push({
      goal: `Under a burst of ${LIFECYCLE_TARGETS.burst.toLocaleString("en")} payment notifications, the webhook's p99 is at least ${LIFECYCLE_TARGETS.webhookP99Ratio}x lower than the synchronous design's, with every invariant passing`,
      measured: `${webhookP99Ratio === null ? "n/a" : `${roundTo(webhookP99Ratio, 1)}x`} lower${burstNote}; invariants ${allPass ? "all PASS" : "FAIL"}`,
      met:
        webhookP99Ratio === null || options.buyers !== LIFECYCLE_TARGETS.burst
          ? null
          : webhookP99Ratio >= LIFECYCLE_TARGETS.webhookP99Ratio && allPass,
    });
  }
  const completed = floodgate?.completedPerSecond ?? null;
  goals.push({
    goal: `Orders from paid to completed: at least ${throughputGoal}/s ${servers ? "on the real servers" : "embedded"}`,
    measured: `${completed === null ? "n/a" : `${Math.round(completed)}/s`}${burstNote}`,
    met: completed === null ? null : completed >= throughputGoal && (floodgate?.invariantsPassed ?? false),
  });
  return goals;
}

const fmt = (value: number | null, unit = " ms") => (value === null ? "—" : `${roundTo(value, 1)}${unit}`);

/** The Markdown summary (also what the terminal shows). */
export function renderLifecycleSummary(report: LifecycleReport): string {
  const lines = [
    `## floodgate bench lifecycle — ${report.date}`,
    "",
    `\`${report.command}\``,
    "",
    `${report.options.buyers} buyers, each ordering once and paying through the bundled payment simulator, all confirmed in one burst (${report.options.confirmConcurrency} confirmations in flight); carrier delivery ${report.options.carrierSeconds} s. Floodgate: ${report.floodgateTarget}. Commit ${report.environment.commit ?? "?"}${report.environment.dirty ? " (uncommitted changes)" : ""}, ${report.environment.cpus} × ${report.environment.cpuModel}, Node ${report.environment.node}. Medians of ${report.options.runs} run(s).`,
    "",
    "| design | webhook p50 | webhook p99 | webhook p99 (server, bucket bound) | confirmation email p50 | p99 | paid→completed | drain | invariants |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...report.summaries.map(
      (summary) =>
        `| ${summary.target === "floodgate" ? "Floodgate (async)" : "sync baseline"} | ${fmt(summary.webhookP50Ms)} | ${fmt(summary.webhookP99Ms)} | ${fmt(summary.webhookServerP99UpperBoundMs)} | ${fmt(summary.emailP50Ms)} | ${fmt(summary.emailP99Ms)} | ${summary.completedPerSecond === null ? "—" : `${Math.round(summary.completedPerSecond)}/s`} | ${fmt(summary.drainSeconds, " s")} | ${summary.invariantsPassed ? "PASS" : "FAIL"} |`,
    ),
    "",
  ];
  if (report.webhookP99Ratio !== null) {
    lines.push(`Webhook p99, sync ÷ async: **${roundTo(report.webhookP99Ratio, 1)}×**.`, "");
  }
  lines.push("Goals:", "");
  for (const goal of report.goals) {
    lines.push(
      `- ${goal.met === null ? "n/a " : goal.met ? "MET " : "NOT MET "}— ${goal.goal}: ${goal.measured}`,
    );
  }
  lines.push("", "Invariants (every run):", "");
  for (const run of report.runs) {
    for (const invariant of run.invariants) {
      lines.push(
        `- ${run.target} run ${run.run}: ${invariant.pass ? "PASS" : "FAIL"} ${invariant.name} — ${invariant.detail}`,
      );
    }
  }
  lines.push("", `Results: ${report.files.json}`, "");
  return `${lines.join("\n")}\n`;
}

function fileStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll(":", "-");
}

/**
 * `floodgate bench lifecycle`: `--runs` runs of Floodgate, each followed by one of the sync
 * baseline when compared (interleaved, so drift hits both), then the medians, the goals, the JSON
 * and the Markdown summary. Exit code 1 when an invariant failed.
 */
export async function runLifecycleBench(
  options: LifecycleOptions,
  output: { stdout: { write(text: string): unknown }; stderr: ProgressStream },
  command: string,
): Promise<{ report: LifecycleReport; exitCode: number }> {
  const date = new Date();
  const outDir = resolve(options.outDir);
  mkdirSync(outDir, { recursive: true });
  const context: LifecycleRunContext = {
    options,
    authSecret: BENCH_AUTH_SECRET,
    progress: new ProgressReporter(output.stderr),
  };
  const environment = describeEnvironment();
  const runs: LifecycleRunRecord[] = [];
  for (let run = 1; run <= options.runs; run++) {
    runs.push(await runFloodgateLifecycle(context, run));
    if (options.compare.includes("sync")) runs.push(await runSyncLifecycle(context, run));
  }
  const summaries = summarizeLifecycle(runs);
  const floodgate = summaries.find((summary) => summary.target === "floodgate");
  const sync = summaries.find((summary) => summary.target === "sync");
  const webhookP99Ratio = sync ? ratio(sync.webhookP99Ms, floodgate?.webhookP99Ms ?? null) : null;
  const prefix = `lifecycle-${fileStamp(date)}`;
  const report: LifecycleReport = {
    schemaVersion: 1,
    command,
    scenario: "lifecycle",
    date: date.toISOString(),
    options,
    environment,
    floodgateTarget: `started by the bench as a child process: ${describeTargetAdapters(options.targetEnv)}`,
    runs,
    summaries,
    webhookP99Ratio,
    goals: evaluateLifecycleGoals(options, summaries, webhookP99Ratio),
    invariantsPassed: summaries.every((summary) => summary.invariantsPassed),
    files: { json: join(outDir, `${prefix}.json`), markdown: join(outDir, `${prefix}.md`) },
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(report.files.json, json);
  const markdown = renderLifecycleSummary(report);
  writeFileSync(report.files.markdown, markdown);
  output.stdout.write(options.jsonOnly ? json : markdown);
  return { report, exitCode: report.invariantsPassed ? 0 : 1 };
}
