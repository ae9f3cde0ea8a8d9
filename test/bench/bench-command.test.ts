import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { COMMON_DEFAULTS, SCENARIO_DEFAULTS } from "../../src/bench/options.js";
import type { BenchReport } from "../../src/bench/report/result-types.js";
import { serverAvailable } from "../support/infra.js";

const sharedServersUp = (await serverAvailable("redis")) && (await serverAvailable("nats"));

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));
const ENV = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };

/** Runs `floodgate <args>` to its end (bounded), collecting stdout and stderr. */
function floodgate(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("floodgate bench", () => {
  const out = mkdtempSync(join(tmpdir(), "floodgate-bench-test-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("documents every option, with the defaults the code applies", () => {
    const { status, stdout } = spawnSync(process.execPath, [BIN, "bench", "--help"], {
      env: ENV,
      encoding: "utf8",
    });
    expect(status).toBe(0);
    for (const option of [
      "--duration",
      "--requests",
      "--connections",
      "--rate",
      "--stock",
      "--users",
      "--warmup",
      "--write-rate",
      "--batch-size",
      "--url",
      "--compare",
      "--runs",
      "--database-url",
      "--cpu-prof",
      "--out",
      "--json-only",
      "--infra",
      "--at-fraction-of-max",
    ]) {
      expect(stdout).toContain(option);
    }
    expect(stdout).toContain(`(default ${COMMON_DEFAULTS.writeRate}; accept: 0)`);
    expect(stdout).toContain(`stock ${SCENARIO_DEFAULTS["flash-sale"].stock}`);
    expect(stdout).toContain(`${SCENARIO_DEFAULTS["flash-sale"].connections} connections`);
    expect(stdout).toContain("--infra redis-jetstream  FLOODGATE_STOCK_URL=redis://127.0.0.1:6379");
  });

  it("refuses a bad option with exit code 2 and a message, before starting anything", () => {
    const { status, stderr } = spawnSync(
      process.execPath,
      [BIN, "bench", "catalog-read", "--compare", "naive"],
      {
        env: ENV,
        encoding: "utf8",
      },
    );
    expect(status).toBe(2);
    expect(stderr).toContain("does not serve catalog-read");
  });

  it("runs a small flash sale against Floodgate and both baselines, and every invariant passes", async () => {
    const { code, stdout, stderr } = await floodgate(
      [
        "bench",
        "flash-sale",
        "--requests",
        "300",
        "--stock",
        "50",
        "--compare",
        "ceiling,naive",
        "--runs",
        "1",
        "--json-only",
        "--out",
        out,
      ],
      110_000,
    );
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as BenchReport;
    expect(report).toMatchObject({ schemaVersion: 1, scenario: "flash-sale", invariantsPassed: true });
    expect(report.options).toMatchObject({ stock: 50, users: 300, compare: ["ceiling", "naive"], runs: 1 });
    expect(Date.parse(report.date)).not.toBeNaN();
    expect(report.environment.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(report.environment.cpus).toBeGreaterThan(0);
    expect(report.environment.node).toBe(process.version);
    expect(report.runs.map((run) => run.target)).toEqual(["floodgate", "ceiling", "naive"]);
    for (const run of report.runs) {
      expect(
        run.generator.completed + Object.values(run.generator.transportErrors).reduce((a, b) => a + b, 0),
      ).toBe(300);
      expect(run.throughputRps).toBeGreaterThan(0);
      expect(run.latencyMs.p50).toBeGreaterThan(0);
      expect(run.latencyMs.p999).toBeGreaterThanOrEqual(run.latencyMs.p99);
      expect(run.generator.cpu.coresUsed).toBeGreaterThan(0);
      expect(run.generator.series.length).toBeGreaterThan(0);
    }
    const [floodgateRun, ceilingRun, naiveRun] = report.runs;
    expect(floodgateRun!.generator.statusCounts).toEqual({ "202": 50, "409": 250 });
    expect(floodgateRun!.generator.errorCodes).toEqual({ sold_out: 250 });
    expect(floodgateRun!.invariants).toHaveLength(9);
    expect(floodgateRun!.invariants!.every((invariant) => invariant.pass)).toBe(true);
    // The naive endpoint is audited too (all but the reconciliation, which it has nothing for).
    expect(naiveRun!.invariants).toHaveLength(8);
    expect(naiveRun!.invariants!.every((invariant) => invariant.pass)).toBe(true);
    expect(floodgateRun!.drain?.drained).toBe(true);
    expect(floodgateRun!.serverSeries!.length).toBeGreaterThan(0);
    expect(floodgateRun!.serverSeries![0]).toHaveProperty("queueDepth");
    expect(ceilingRun!.generator.statusCounts).toEqual({ "200": 300 });
    expect(naiveRun!.generator.statusCounts).toEqual({ "202": 50, "409": 250 });
    expect(report.summaries.map((summary) => summary.target)).toEqual(["floodgate", "ceiling", "naive"]);
    expect(report.comparisons.map((comparison) => comparison.baseline)).toEqual(["ceiling", "naive"]);
    for (const comparison of report.comparisons) {
      expect(comparison.throughputRatio).toBeGreaterThan(0);
      expect(comparison.p99LatencyRatio).toBeGreaterThan(0);
    }
    expect(report.goals).toHaveLength(2);

    expect(JSON.parse(readFileSync(report.files.json, "utf8"))).toEqual(report);
    expect(existsSync(report.files.html)).toBe(true);
    const html = readFileSync(report.files.html, "utf8");
    expect(html).toContain("uPlot");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    expect(html).toContain("every 202&#39;s orderId is stored exactly once");
    expect(readFileSync(report.files.markdown, "utf8")).toContain("### flash-sale");
  }, 120_000);

  it.skipIf(!sharedServersUp)(
    "runs Floodgate on Redis + JetStream under prefixes of its own, and removes them afterwards",
    async () => {
      const { code, stdout, stderr } = await floodgate(
        [
          "bench",
          "flash-sale",
          "--requests",
          "300",
          "--stock",
          "50",
          "--warmup",
          "100",
          "--infra",
          "redis-jetstream",
          "--runs",
          "2",
          "--json-only",
          "--out",
          out,
        ],
        110_000,
      );
      expect(code, stderr).toBe(0);
      const report = JSON.parse(stdout) as BenchReport;
      expect(report.invariantsPassed).toBe(true);
      expect(report.floodgateTarget).toContain("queue on NATS JetStream");
      const [first, second] = report.runs.map((run) => run.sharedState!);
      expect(first!.prefixes.FLOODGATE_QUEUE_PREFIX).toMatch(/^bench-[0-9a-f]{8}$/);
      expect(first!.prefixes.FLOODGATE_STOCK_PREFIX).toMatch(/^bench:[0-9a-f]{8}:$/);
      expect(second!.prefixes.FLOODGATE_QUEUE_PREFIX).not.toBe(first!.prefixes.FLOODGATE_QUEUE_PREFIX);
      for (const shared of [first!, second!]) {
        expect(shared.cleanup.errors).toEqual([]);
        expect(shared.cleanup.streamsDeleted.length).toBeGreaterThan(0);
        expect(shared.cleanup.keysDeleted).toBeGreaterThan(0);
      }
      expect(report.goals.map((goal) => goal.goal)).toContain(
        "intake peak ≥ 10× the write ceiling, in every run",
      );
    },
    120_000,
  );
});
