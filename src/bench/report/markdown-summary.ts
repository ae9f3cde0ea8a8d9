import { describeLoad } from "../options.js";
import { representativeRun } from "./build-report.js";
import { cacheFiguresOf, describeCacheFigures } from "./cache-figures.js";
import {
  formatCores,
  formatCounts,
  formatCpuPerRequest,
  formatMs,
  formatNumber,
  formatRatio,
  shortPath,
} from "./format.js";
import {
  describeGoalFigures,
  describeP99AtFraction,
  describeSharedState,
  goalVerdict,
} from "./goal-lines.js";
import { describePeakShaving, peakShavingOf } from "./peak-shaving.js";
import type { BenchReport } from "./result-types.js";
import {
  describeTargetSettings,
  hasServerCpu,
  perCoreLabel,
  runResponses,
  saturationNotes,
} from "./summary-table.js";

const PROFILE_ROWS = 15;

/**
 * The report as a Markdown section, written next to the JSON so that docs/performance.md can quote
 * measured figures verbatim instead of anyone typing numbers in.
 */
export function renderMarkdownSummary(report: BenchReport): string {
  const { environment: env, options } = report;
  const lines: string[] = [];
  lines.push(`### ${report.scenario} — ${report.date}`);
  lines.push("");
  lines.push(`- command: \`${report.command}\``);
  lines.push(
    `- commit \`${env.commit ?? "unknown"}\`${env.dirty ? " plus uncommitted changes" : ""} · ${env.cpus} CPUs (${env.cpuModel}) · node ${env.node} · ${env.os}`,
  );
  lines.push(`- load: ${describeLoad(options)} · ${options.runs} run(s) per target`);
  lines.push(`- target: ${describeTargetSettings(report)}`);
  lines.push("");
  const servers = hasServerCpu(report);
  lines.push(
    `| target | runs | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | target CPU |${
      servers ? " servers CPU |" : ""
    } CPU µs/req | generator CPU | other CPU |`,
  );
  lines.push(`|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|${servers ? "--:|" : ""}--:|--:|--:|`);
  for (const s of report.summaries) {
    lines.push(
      `| ${s.target} | ${s.runs} | ${formatNumber(s.throughputRps)} | ${formatMs(s.latencyMs.p50)} | ${formatMs(
        s.latencyMs.p90,
      )} | ${formatMs(s.latencyMs.p99)} | ${formatMs(s.latencyMs.p999)} | ${formatMs(s.latencyMs.max)} | ${formatNumber(
        s.errors,
      )} | ${formatCores(s.targetCores)} |${servers ? ` ${formatCores(s.serverCores)} |` : ""} ${formatCpuPerRequest(
        s.throughputPerCore,
      )} | ${formatCores(s.generatorCoresUsed)} | ${formatCores(s.otherCores)} |`,
    );
  }
  lines.push("");
  lines.push(
    `Medians over runs; CPU in cores while the load ran (${
      servers ? "servers CPU = the Redis, NATS or PostgreSQL processes the target works through; " : ""
    }CPU µs/req = ${perCoreLabel(report)} time per answered request; other CPU = other processes on the machine).`,
  );
  lines.push(...saturationNotes(report).map((note) => `- ${note}`));
  for (const c of report.comparisons) {
    lines.push(
      `- floodgate vs ${c.baseline}: throughput ${formatRatio(c.throughputRatio)} (per core of ${perCoreLabel(report)} ${formatRatio(
        c.throughputPerCoreRatio,
      )}), p99 ${formatRatio(c.p99LatencyRatio)} lower`,
    );
  }
  const p99AtFraction = describeP99AtFraction(report);
  if (p99AtFraction) lines.push(`- ${p99AtFraction}`);
  for (const goal of report.goals) {
    lines.push(
      `- goal ${goalVerdict(goal)}: ${goal.goal} — measured ${describeGoalFigures(goal)}; ${goal.note}`,
    );
  }
  const audited = [...(report.calibration?.runs ?? []), ...report.runs].filter(
    (run) => run.invariants !== null,
  );
  if (audited.length > 0) {
    const failures = audited.flatMap((run) =>
      run
        .invariants!.filter((i) => !i.pass)
        .map((i) => `${run.target} run ${run.run}: ${i.name} — ${i.detail}`),
    );
    const targets = [...new Set(audited.map((run) => run.target))].join(" and ");
    lines.push(
      failures.length === 0
        ? `- invariants: all PASS in ${audited.length} of ${audited.length} runs of ${targets} (${audited[0]!.invariants!.map((i) => i.name).join("; ")})`
        : `- invariants FAILED: ${failures.join("; ")}`,
    );
  }
  for (const summary of report.summaries) {
    const runs = report.runs.filter((run) => run.target === summary.target);
    const counts = runs.map((run) => formatCounts(run.generator.statusCounts));
    if (counts.every((text) => text === counts[0])) {
      lines.push(
        `- ${summary.target} responses: ${counts[0]}${runs.length > 1 ? ` in each of ${runs.length} runs` : ""}`,
      );
    } else {
      for (const [index, run] of runs.entries())
        lines.push(`- ${summary.target} run ${run.run} responses: ${counts[index]}`);
    }
  }
  for (const summary of report.summaries) {
    const run = representativeRun(report.runs, summary.target);
    const kinds = Object.entries(run?.generator.latencyByKindMs ?? {});
    if (run && kinds.length > 1) {
      const parts = kinds.map(
        ([kind, latency]) =>
          `${kind} p50 ${formatMs(latency?.p50)} / p99 ${formatMs(latency?.p99)} ms (×${formatNumber(latency?.count)})`,
      );
      lines.push(`- latency by request kind, ${summary.target} run ${run.run}: ${parts.join(" · ")}`);
    }
  }
  for (const run of report.runs) {
    const cache = cacheFiguresOf(report, run);
    if (cache) lines.push(`- cache, ${run.target} run ${run.run}: ${describeCacheFigures(cache)}`);
  }
  for (const run of report.calibration?.runs ?? []) {
    lines.push(
      `- finding the maximum, floodgate run ${run.run} (closed model): ${formatNumber(run.throughputRps)} req/s, p99 ${formatMs(
        run.latencyMs.p99,
      )} ms, responses ${runResponses(run)}`,
    );
  }
  const shaved = [
    ...(report.calibration?.runs ?? []).map((run) => ({ run, name: `${run.target} max run ${run.run}` })),
    ...report.runs.map((run) => ({ run, name: `${run.target} run ${run.run}` })),
  ];
  for (const { run, name } of shaved) {
    const shaving = peakShavingOf(report.options, run);
    if (shaving) {
      const drained = run.drain?.drained ? run.drain.waitedMs / 1000 : null;
      lines.push(`- peak shaving, ${name}: ${describePeakShaving(shaving, drained)}`);
    }
  }
  for (const run of report.runs) {
    const shared = describeSharedState(run);
    if (shared) lines.push(`- shared servers, ${run.target} run ${run.run}: ${shared}`);
  }
  const profiled = representativeRun(
    report.runs.filter((run) => run.cpuProfile !== null),
    "floodgate",
  );
  if (profiled?.cpuProfile) {
    const summary = profiled.cpuProfile.loadWindow;
    lines.push("");
    lines.push(
      `CPU profile of the target's main thread during the load and drain (run ${profiled.run}): ${formatNumber(
        summary.busyMs / 1000,
        1,
      )} s busy of ${formatNumber(summary.totalMs / 1000, 1)} s. By area: ${summary.topAreas
        .slice(0, 10)
        .map((a) => `${a.area} ${a.selfPercent}%`)
        .join(" · ")}.`,
    );
    lines.push("");
    lines.push("| self % of busy | self ms | function | where |");
    lines.push("|--:|--:|---|---|");
    for (const f of summary.topFunctions.slice(0, PROFILE_ROWS)) {
      const where = shortPath(f.location || (f.calledFrom ? `native, called from ${f.calledFrom}` : ""));
      lines.push(
        `| ${f.selfPercent.toFixed(1)} | ${formatNumber(f.selfMs)} | \`${f.functionName}\` | ${where} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
