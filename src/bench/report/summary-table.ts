import { describeLoad, isOrderBurst } from "../options.js";
import { perCoreLabelOf, representativeRun, summariesHaveServerCpu } from "./build-report.js";
import {
  formatCores,
  formatCounts,
  formatCpuPerRequest,
  formatMs,
  formatNumber,
  formatRatio,
  shortPath,
} from "./format.js";
import { describeGoalFigures, describeP99AtFraction, describeSharedState } from "./goal-lines.js";
import { describePeakShaving, peakShavingOf } from "./peak-shaving.js";
import type { BenchReport, RunRecord } from "./result-types.js";

const PROFILE_LINES = 12;

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join("  "),
  );
}

/** True when some target's CPU figures include the servers it works through. */
export function hasServerCpu(report: BenchReport): boolean {
  return summariesHaveServerCpu(report.summaries);
}

/** What "per core" divides by: the target's CPU, and its servers' when it works through any. */
export function perCoreLabel(report: BenchReport): string {
  return perCoreLabelOf(report.summaries);
}

/** Settings of the target the load was measured against, in one line. */
export function describeTargetSettings(report: BenchReport): string {
  const { options } = report;
  const parts = [`Floodgate: ${report.floodgateTarget}`];
  if (options.scenario !== "catalog-read") parts.push(`stock ${formatNumber(options.stock)}`);
  if (options.scenario !== "catalog-read") parts.push(`${formatNumber(options.users)} buyers`);
  if (!isOrderBurst(options.scenario))
    parts.push(`${formatNumber(options.products)} products, Zipf s=${options.zipfExponent}`);
  if (options.url === null) {
    parts.push(
      options.writeRate > 0
        ? `write ceiling ${formatNumber(options.writeRate)} orders/s (batch ${options.batchSize})`
        : `no write ceiling (batch ${options.batchSize})`,
    );
  }
  return parts.join(" · ");
}

export function runResponses(run: RunRecord): string {
  const codes = Object.keys(run.generator.errorCodes).length
    ? ` (${formatCounts(run.generator.errorCodes)})`
    : "";
  const transport = Object.keys(run.generator.transportErrors).length
    ? ` · no answer: ${formatCounts(run.generator.transportErrors)}`
    : "";
  return `${formatCounts(run.generator.statusCounts)}${codes}${transport}`;
}

/** A process this busy is at its limit: one Node.js thread, or wrk's one thread. */
const SATURATED_CORES = 0.85;

/**
 * Which side limited each target's throughput: the generator, the target (a single-threaded
 * process near one core), or neither (the machine's cores were shared out), plus a warning when
 * other processes took a noticeable share.
 */
export function saturationNotes(report: BenchReport): string[] {
  const notes: string[] = [];
  const generator = report.options.generator === "wrk" ? "wrk" : "the generator";
  for (const summary of report.summaries) {
    const generatorCores = summary.generatorCoresUsed;
    const targetCores = summary.targetCores;
    if (generatorCores !== null && generatorCores >= SATURATED_CORES) {
      notes.push(
        `note: ${generator} used ${formatCores(generatorCores)} cores against ${summary.target}: that throughput is the generator's limit on this machine, not the target's; compare CPU µs/req`,
      );
    } else if (targetCores !== null && targetCores >= SATURATED_CORES) {
      notes.push(
        `note: ${summary.target} used ${formatCores(targetCores)} cores, ${generator} ${formatCores(generatorCores)}: the target saturated`,
      );
    } else if (targetCores !== null) {
      notes.push(
        `note: neither side saturated against ${summary.target} (target ${formatCores(targetCores)} cores, ${generator} ${formatCores(generatorCores)}, others ${formatCores(summary.otherCores)}): the cores were shared out; compare CPU µs/req`,
      );
    }
    if (summary.otherCores !== null && summary.otherCores >= 0.25) {
      notes.push(
        `note: other processes used ${formatCores(summary.otherCores)} cores during the ${summary.target} runs: the machine was shared`,
      );
    }
  }
  return notes;
}

/** The human summary printed on stdout at the end. */
export function renderSummary(report: BenchReport): string {
  const { environment: env, options } = report;
  const lines: string[] = [];
  lines.push(
    `floodgate bench ${report.scenario} · ${report.date} · commit ${env.commit?.slice(0, 12) ?? "unknown"}${
      env.dirty ? " (+ uncommitted changes)" : ""
    } · ${env.cpus} CPUs · node ${env.node}`,
  );
  lines.push(
    `load: ${describeLoad(options)} · ${options.runs} run(s) per target · ${describeTargetSettings(report)}`,
  );
  lines.push("");
  const servers = hasServerCpu(report);
  lines.push(
    ...table([
      [
        "target",
        "runs",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "target CPU",
        ...(servers ? ["servers"] : []),
        "CPU µs/req",
        "gen CPU",
        "others",
        "gen capacity",
      ],
      ...report.summaries.map((summary) => [
        summary.target,
        String(summary.runs),
        formatNumber(summary.throughputRps),
        formatMs(summary.latencyMs.p50),
        formatMs(summary.latencyMs.p90),
        formatMs(summary.latencyMs.p99),
        formatMs(summary.latencyMs.p999),
        formatMs(summary.latencyMs.max),
        formatNumber(summary.errors),
        formatCores(summary.targetCores),
        ...(servers ? [formatCores(summary.serverCores)] : []),
        formatCpuPerRequest(summary.throughputPerCore),
        formatCores(summary.generatorCoresUsed),
        formatCores(summary.otherCores),
        summary.generatorCapacityRps === null ? "–" : `${formatNumber(summary.generatorCapacityRps)} req/s`,
      ]),
    ]),
  );
  lines.push(
    "  (medians over runs; errors = no answer or 5xx; CPU in cores (1.00 = one core busy) while loaded:",
  );
  lines.push(
    `   the target,${servers ? " the servers it works through (Redis, NATS, PostgreSQL)," : ""} the load generator, and other processes on the machine (noise); gen capacity =`,
  );
  lines.push("   requests the generator completes per second of its own CPU, i.e. the most it could drive;");
  lines.push(
    `   CPU µs/req = ${perCoreLabel(report)} time per answered request, from the kernel's accounting)`,
  );
  lines.push(...saturationNotes(report).map((note) => `  ${note}`));
  if (report.comparisons.length > 0) {
    lines.push("");
    for (const comparison of report.comparisons) {
      lines.push(
        `floodgate vs ${comparison.baseline}: throughput ${formatRatio(comparison.throughputRatio)} (per core of ${perCoreLabel(report)} ${formatRatio(
          comparison.throughputPerCoreRatio,
        )}) · p99 ${formatRatio(comparison.p99LatencyRatio)} lower (baseline p99 ÷ floodgate p99)`,
      );
    }
  }
  const byKind = report.runs.filter((run) => Object.keys(run.generator.latencyByKindMs).length > 1);
  if (byKind.length > 0) {
    lines.push("");
    lines.push("latency by request kind (p50 / p99 ms):");
    for (const run of byKind) {
      const kinds = Object.entries(run.generator.latencyByKindMs).map(
        ([kind, latency]) =>
          `${kind} ${formatMs(latency?.p50)} / ${formatMs(latency?.p99)} (×${formatNumber(latency?.count)})`,
      );
      lines.push(`  ${run.target} run ${run.run}: ${kinds.join(" · ")}`);
    }
  }
  lines.push("");
  lines.push("responses by status (error.code):");
  for (const run of report.runs) lines.push(`  ${run.target} run ${run.run}: ${runResponses(run)}`);
  const calibration = report.calibration;
  if (calibration) {
    lines.push("");
    for (const run of calibration.runs) {
      lines.push(
        `finding the maximum, floodgate run ${run.run} (closed model): ${formatNumber(run.throughputRps)} req/s, p99 ${formatMs(
          run.latencyMs.p99,
        )} ms · ${runResponses(run)}`,
      );
      const shaving = peakShavingOf(report.options, run);
      if (shaving) {
        const drained = run.drain?.drained ? run.drain.waitedMs / 1000 : null;
        lines.push(`  peak shaving: ${describePeakShaving(shaving, drained)}`);
      }
    }
    lines.push(describeP99AtFraction(report)!);
  }
  const drains = report.runs.filter((run) => run.drain !== null);
  if (drains.length > 0) {
    lines.push(
      `drain after the burst: ${drains
        .map(
          (run) =>
            `run ${run.run} ${run.drain!.drained ? `${formatNumber(run.drain!.waitedMs / 1000, 1)} s` : "NOT DRAINED"}`,
        )
        .join(" · ")}`,
    );
  }
  for (const run of report.runs) {
    const shaving = peakShavingOf(report.options, run);
    if (shaving) {
      const drained = run.drain?.drained ? run.drain.waitedMs / 1000 : null;
      lines.push(`peak shaving, ${run.target} run ${run.run}: ${describePeakShaving(shaving, drained)}`);
    }
  }
  const shared = report.runs.flatMap((run) => {
    const text = describeSharedState(run);
    return text ? [`  ${run.target} run ${run.run}: ${text}`] : [];
  });
  if (shared.length > 0) {
    lines.push("");
    lines.push("shared servers (each run's own prefixes, removed after it):");
    lines.push(...shared);
  }
  const audited = [
    ...(calibration?.runs ?? []).map((run) => ({ run, name: `max run ${run.run}` })),
    // Floodgate's runs as before; a baseline audited too (naive) by name.
    ...report.runs.map((run) => ({
      run,
      name: run.target === "floodgate" ? `run ${run.run}` : `${run.target} run ${run.run}`,
    })),
  ].filter(({ run }) => run.invariants !== null);
  if (audited.length > 0) {
    lines.push("");
    lines.push("invariants (checked through the target's API after the drain):");
    for (const { run, name } of audited) {
      for (const invariant of run.invariants!) {
        lines.push(`  ${name}  ${invariant.pass ? "PASS" : "FAIL"}  ${invariant.name} — ${invariant.detail}`);
      }
    }
  }
  if (report.goals.length > 0) {
    lines.push("");
    lines.push("goals:");
    for (const goal of report.goals) {
      const verdict = goal.met === null ? "n/a " : goal.met ? "MET " : "MISS";
      lines.push(`  ${verdict}  ${goal.goal}: ${describeGoalFigures(goal)} — ${goal.note}`);
    }
  }
  const profiled = representativeRun(
    report.runs.filter((run) => run.cpuProfile !== null),
    "floodgate",
  );
  if (profiled?.cpuProfile) {
    const { loadWindow: summary, file } = profiled.cpuProfile;
    lines.push("");
    lines.push(
      `CPU profile of the target's main thread during the load and drain (run ${profiled.run}; busy ${formatNumber(
        summary.busyMs / 1000,
        1,
      )} s of ${formatNumber(summary.totalMs / 1000, 1)} s; shares of busy time, self time): ${file}`,
    );
    lines.push(
      `  by area: ${summary.topAreas
        .slice(0, 8)
        .map((area) => `${area.area} ${area.selfPercent}%`)
        .join(" · ")}`,
    );
    for (const entry of summary.topFunctions.slice(0, PROFILE_LINES)) {
      const where = shortPath(
        entry.location || (entry.calledFrom ? `native, called from ${entry.calledFrom}` : ""),
      );
      lines.push(`  ${`${entry.selfPercent.toFixed(1)}%`.padStart(6)}  ${entry.functionName}  ${where}`);
    }
  }
  lines.push("");
  lines.push(`results: ${report.files.json}`);
  lines.push(`report:  ${report.files.html}`);
  lines.push(`summary: ${report.files.markdown}`);
  return `${lines.join("\n")}\n`;
}
