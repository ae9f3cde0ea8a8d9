import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describeLoad } from "../options.js";
import { compareWithBaselines } from "./build-report.js";
import { buildCharts } from "./chart-data.js";
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
import { describeTargetSettings, hasServerCpu, perCoreLabel } from "./summary-table.js";

const require = createRequire(import.meta.url);

/** uPlot's browser build and stylesheet, inlined so the report opens anywhere with no network. */
function uplotAssets(): { script: string; style: string } {
  return {
    script: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    style: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

function summaryTable(report: BenchReport): string {
  const servers = hasServerCpu(report);
  const rows = report.summaries
    .map(
      (s) =>
        `<tr><th>${escapeHtml(s.target)}</th><td>${s.runs}</td><td>${formatNumber(s.throughputRps)}</td><td>${formatMs(
          s.latencyMs.p50,
        )}</td><td>${formatMs(s.latencyMs.p90)}</td><td>${formatMs(s.latencyMs.p99)}</td><td>${formatMs(
          s.latencyMs.p999,
        )}</td><td>${formatMs(s.latencyMs.max)}</td><td>${formatNumber(s.errors)}</td><td>${formatCores(
          s.targetCores,
        )}</td>${servers ? `<td>${formatCores(s.serverCores)}</td>` : ""}<td>${formatCpuPerRequest(s.throughputPerCore)}</td><td>${formatCores(s.generatorCoresUsed)}</td><td>${formatCores(s.otherCores)}</td><td>${formatNumber(
          s.generatorCapacityRps,
        )}</td></tr>`,
    )
    .join("");
  return `<table><thead><tr><th>target</th><th>runs</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>errors</th><th>target CPU</th>${servers ? "<th>servers CPU</th>" : ""}<th>CPU µs/req</th><th>generator CPU</th><th>other CPU</th><th>generator capacity req/s</th></tr></thead><tbody>${rows}</tbody></table>
<p class="note">Medians over runs. Errors: requests with no answer or a 5xx. CPU in cores (1.00 = one core fully busy) while the load ran: the target,${
    servers ? " the servers it works through (Redis, NATS, PostgreSQL)," : ""
  } the load generator, and other processes on the machine (noise). CPU µs/req: the target's CPU time${servers ? " (with its servers')" : ""} per answered request, from the kernel's accounting. Generator capacity: requests it completes per second of its own CPU, the most it could drive.</p>`;
}

function sections(report: BenchReport): string {
  const parts: string[] = [];
  const comparisons = compareWithBaselines(report.summaries);
  if (comparisons.length > 0) {
    parts.push(
      `<h2>Floodgate against the baselines</h2><ul>${comparisons
        .map(
          (c) =>
            `<li>vs <b>${escapeHtml(c.baseline)}</b>: throughput ${formatRatio(c.throughputRatio)} (per core of ${perCoreLabel(report)} ${formatRatio(
              c.throughputPerCoreRatio,
            )}), p99 ${formatRatio(c.p99LatencyRatio)} lower</li>`,
        )
        .join("")}</ul>`,
    );
  }
  const p99AtFraction = describeP99AtFraction(report);
  if (p99AtFraction)
    parts.push(`<h2>Latency at a fraction of the maximum</h2><p>${escapeHtml(p99AtFraction)}</p>`);
  if (report.goals.length > 0) {
    parts.push(
      `<h2>Goals</h2><ul>${report.goals
        .map(
          (g) =>
            `<li class="${g.met === null ? "na" : g.met ? "pass" : "fail"}">${goalVerdict(g)} — ${escapeHtml(
              g.goal,
            )}: ${escapeHtml(describeGoalFigures(g))} (${escapeHtml(g.note)})</li>`,
        )
        .join("")}</ul>`,
    );
  }
  const audited = [...(report.calibration?.runs ?? []), ...report.runs].filter(
    (run) => run.invariants !== null,
  );
  if (audited.length > 0) {
    parts.push(
      `<h2>Invariants</h2><p class="note">Checked after the drain through the target's own API (GET /admin/sales/:sku and every page of GET /admin/orders).</p><table><thead><tr><th>runs</th><th>result</th><th>invariant</th><th>detail</th></tr></thead><tbody>${invariantRows(
        audited,
      )}</tbody></table>`,
    );
  }
  parts.push(
    `<h2>Responses</h2><ul>${[...(report.calibration?.runs ?? []), ...report.runs]
      .map(
        (run) =>
          `<li>${escapeHtml(run.target)}${
            report.calibration?.runs.includes(run) ? " (finding the maximum, closed model)" : ""
          } run ${run.run}: ${escapeHtml(formatCounts(run.generator.statusCounts))}${
            Object.keys(run.generator.errorCodes).length
              ? ` — codes: ${escapeHtml(formatCounts(run.generator.errorCodes))}`
              : ""
          }${
            Object.keys(run.generator.transportErrors).length
              ? ` — no answer: ${escapeHtml(formatCounts(run.generator.transportErrors))}`
              : ""
          }${run.drain ? ` — drained in ${formatNumber(run.drain.waitedMs / 1000, 1)} s${run.drain.drained ? "" : " (NOT DRAINED)"}` : ""}${peakShavingLine(report, run)}${
            describeSharedState(run)
              ? `<br><span class="note">shared servers: ${escapeHtml(describeSharedState(run)!)}</span>`
              : ""
          }</li>`,
      )
      .join("")}</ul>`,
  );
  const profiled = report.runs.find((run) => run.cpuProfile !== null);
  if (profiled?.cpuProfile) {
    const { loadWindow: summary } = profiled.cpuProfile;
    parts.push(
      `<h2>CPU profile of the target (run ${profiled.run})</h2><p class="note">Main thread, during the load and the drain: ${formatNumber(
        summary.busyMs / 1000,
        1,
      )} s busy of ${formatNumber(summary.totalMs / 1000, 1)} s; self time, as shares of busy time. By area: ${escapeHtml(
        summary.topAreas.map((a) => `${a.area} ${a.selfPercent}%`).join(" · "),
      )}</p><table><thead><tr><th>self %</th><th>self ms</th><th>function</th><th>where</th></tr></thead><tbody>${summary.topFunctions
        .map(
          (f) =>
            `<tr><td>${f.selfPercent.toFixed(1)}</td><td>${formatNumber(f.selfMs)}</td><td>${escapeHtml(f.functionName)}</td><td>${escapeHtml(
              shortPath(f.location || (f.calledFrom ? `native, called from ${f.calledFrom}` : "")),
            )}</td></tr>`,
        )
        .join("")}</tbody></table>`,
    );
  }
  return parts.join("\n");
}

/** One row per invariant and outcome; runs with the same result and detail share a row. */
function invariantRows(runs: readonly BenchReport["runs"][number][]): string {
  const rows = new Map<string, { runs: number[]; pass: boolean; name: string; detail: string }>();
  for (const run of runs) {
    for (const invariant of run.invariants ?? []) {
      const key = `${invariant.name}\u0000${invariant.pass}\u0000${invariant.detail}`;
      const row = rows.get(key);
      if (row) row.runs.push(run.run);
      else
        rows.set(key, {
          runs: [run.run],
          pass: invariant.pass,
          name: invariant.name,
          detail: invariant.detail,
        });
    }
  }
  return [...rows.values()]
    .map(
      (row) =>
        `<tr class="${row.pass ? "pass" : "fail"}"><td>${row.runs.join(", ")}</td><td>${row.pass ? "PASS" : "FAIL"}</td><td>${escapeHtml(
          row.name,
        )}</td><td>${escapeHtml(row.detail)}</td></tr>`,
    )
    .join("");
}

function peakShavingLine(report: BenchReport, run: BenchReport["runs"][number]): string {
  const shaving = peakShavingOf(report.options, run);
  if (!shaving) return "";
  return `<br><span class="note">peak shaving: ${escapeHtml(
    describePeakShaving(shaving, run.drain?.drained ? run.drain.waitedMs / 1000 : null),
  )}</span>`;
}

const DRAW_SCRIPT = `
const charts = JSON.parse(document.getElementById("chart-data").textContent);
const container = document.getElementById("charts");
for (const spec of charts) {
  const figure = document.createElement("figure");
  const holder = document.createElement("div");
  const caption = document.createElement("figcaption");
  caption.textContent = spec.caption;
  figure.append(holder, caption);
  container.append(figure);
  const width = Math.max(320, Math.min(1100, container.clientWidth - 8));
  new uPlot({
    title: spec.title,
    width,
    height: 280,
    scales: { x: { time: false } },
    axes: [{ label: "seconds since the load started" }, { label: spec.yLabel, size: 70 }],
    series: [{ label: "s" }].concat(spec.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, spanGaps: false }))),
  }, [spec.x].concat(spec.series.map((s) => s.values)), holder);
}
`;

/** The whole report as one HTML file with no external references. */
export function renderHtmlReport(report: BenchReport): string {
  const { script, style } = uplotAssets();
  const env = report.environment;
  const title = `floodgate bench ${report.scenario} — ${report.date}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1140px; padding: 0 16px; color: #111827; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; }
th:first-child, td:nth-child(3), td:nth-child(4) { text-align: left; }
.meta, .note, figcaption { color: #4b5563; font-size: 13px; } code { background: #f3f4f6; padding: 1px 4px; }
.pass { color: #166534; } .fail { color: #b91c1c; font-weight: 600; } .na { color: #6b7280; }
figure { margin: 18px 0; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="meta">commit <code>${escapeHtml(env.commit ?? "unknown")}</code>${env.dirty ? " with uncommitted changes" : ""} · ${env.cpus} CPUs (${escapeHtml(
    env.cpuModel,
  )}) · node ${escapeHtml(env.node)} · ${escapeHtml(env.os)}</p>
<p class="meta">load: ${escapeHtml(describeLoad(report.options))} · ${report.options.runs} run(s) per target · ${escapeHtml(
    describeTargetSettings(report),
  )}</p>
<p class="meta">command: <code>${escapeHtml(report.command)}</code></p>
<h2>Summary</h2>
${summaryTable(report)}
${sections(report)}
<h2>Time series</h2>
<div id="charts"></div>
<script id="chart-data" type="application/json">${scriptJson(buildCharts(report))}</script>
<script>${script}</script>
<script>${DRAW_SCRIPT}</script>
</body></html>
`;
}
