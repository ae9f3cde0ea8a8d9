/**
 * Issue 12's targets, measured with wrk (Debian's) against processes started here, every figure a
 * median over --runs runs whose targets are interleaved (A, B, C, A, B, C, …):
 *
 *   gateway cost   POST /orders through `floodgate gateway` against the same intake called
 *                  directly: throughput (64 connections) and p99 latency (2 connections, below
 *                  saturation, so the difference is the hop, not queueing);
 *   tracing cost   an intake with tracing on (FLOODGATE_OTLP_URL, 1 % sampled) against one with
 *                  tracing off, both behind the same inventory and queue;
 *   rolling restart  wrk through a gateway over two intakes while each is restarted in turn;
 *                  counts 5xx answers and socket errors.
 *
 *   npx tsx bench/gateway/run.ts [--runs 5] [--seconds 10]
 *
 * Needs wrk, PostgreSQL and NATS on 127.0.0.1 (as the tests). Writes bench/results/gateway-<time>.json.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort, REPOSITORY_ROOT } from "../../src/bench/target/child-process.js";
import { TokenService } from "../../src/platform/auth/tokens.js";

const run = promisify(execFile);
const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
};
const RUNS = argument("runs", 5);
const SECONDS = argument("seconds", 10);
const SECRET = "bench-gateway-secret-that-is-at-least-32-chars";
const SKU = "BENCH-GW";
const tokens = new TokenService(SECRET);
const dir = mkdtempSync(join(tmpdir(), "floodgate-bench-gw-"));
const children = new Map<
  string,
  { child: ChildProcess; args: string[]; env: Record<string, string>; port: number }
>();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface WrkResult {
  requests: number;
  seconds: number;
  p50_ms: number;
  p99_ms: number;
  s2xx: number;
  s4xx: number;
  s5xx: number;
  socket_errors: number;
}

async function wrk(url: string, connections: number, seconds: number): Promise<WrkResult & { rps: number }> {
  const { stdout, stderr } = await run(
    "wrk",
    [
      // Answers slower than wrk's default 2 s count as errors; a loaded 2-core machine needs more.
      "--timeout",
      "10s",
      "-t",
      connections > 2 ? "2" : "1",
      "-c",
      String(connections),
      "-d",
      `${seconds}s`,
      "-s",
      "bench/gateway/orders.lua",
      url,
    ],
    {
      cwd: REPOSITORY_ROOT,
      env: { ...process.env, FLOODGATE_BENCH_TOKENS: join(dir, "tokens.txt"), FLOODGATE_BENCH_SKU: SKU },
      timeout: (seconds + 60) * 1000,
    },
  );
  if (stderr) process.stderr.write(stderr);
  const line = stdout.split("\n").find((l) => l.startsWith("FLOODGATE_BENCH "));
  const result = JSON.parse(line!.slice("FLOODGATE_BENCH ".length)) as WrkResult;
  return { ...result, rps: result.requests / result.seconds };
}

async function startProcess(
  name: string,
  args: string[],
  env: Record<string, string>,
  port?: number,
): Promise<string> {
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, ["bin/floodgate.mjs", ...args], {
    cwd: REPOSITORY_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      ...env,
      FLOODGATE_PORT: String(chosen),
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.set(name, { child, args, env, port: chosen });
  const url = `http://127.0.0.1:${chosen}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return url;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not become ready`);
}

async function restart(name: string): Promise<void> {
  const entry = children.get(name)!;
  const exited = new Promise((resolve) => entry.child.once("exit", resolve));
  entry.child.kill("SIGTERM");
  await exited;
  await startProcess(name, entry.args, entry.env, entry.port);
}

async function main() {
  const database = `floodgate_bench_gw_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: "postgres://root@127.0.0.1:5432/postgres" });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  // An OTLP endpoint that takes every export and counts the bytes: tracing's cost without a collector's.
  let exported = 0;
  const sink = createServer((request, response) => {
    request.on("data", (chunk: Buffer) => {
      exported += chunk.length;
    });
    request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("{}"));
  });
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const otlpUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  try {
    const ports = { back: await freePort(), intake: await freePort(), intake2: await freePort() };
    const at = (port: number) => `http://127.0.0.1:${port}`;
    const common = {
      FLOODGATE_AUTH_SECRET: SECRET,
      FLOODGATE_DATABASE_URLS: `postgres://root@127.0.0.1:5432/${database}`,
      FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222",
      FLOODGATE_QUEUE_PREFIX: database.replaceAll("_", "-"),
      FLOODGATE_SEED_DEMO: "false",
      FLOODGATE_LOG_LEVEL: "warn",
      FLOODGATE_CACHE_WARM_TOP: "0",
    };
    const serviceUrls = (orders: string) =>
      `catalog=${at(ports.back)},inventory=${at(ports.back)},sales=${at(ports.back)},orders=${orders}`;
    const withUrls = (name: string, workerId: number, extra: Record<string, string> = {}) => ({
      ...common,
      FLOODGATE_DATA_DIR: join(dir, name),
      FLOODGATE_WORKER_ID: String(workerId),
      FLOODGATE_SERVICE_URLS: serviceUrls(at(ports.intake)),
      ...extra,
    });
    const back = await startProcess(
      "back",
      ["start"],
      withUrls("back", 31, { FLOODGATE_SERVICES: "catalog,inventory,sales" }),
      ports.back,
    );
    const intake = await startProcess(
      "intake",
      ["service", "orders"],
      withUrls("intake", 32, { FLOODGATE_ORDERS_ROLE: "intake", FLOODGATE_SHUTDOWN_DRAIN_MS: "1500" }),
      ports.intake,
    );
    await startProcess(
      "intake2",
      ["service", "orders"],
      withUrls("intake2", 33, { FLOODGATE_ORDERS_ROLE: "intake", FLOODGATE_SHUTDOWN_DRAIN_MS: "1500" }),
      ports.intake2,
    );
    const traced = await startProcess(
      "intake-traced",
      ["service", "orders"],
      withUrls("traced", 34, {
        FLOODGATE_ORDERS_ROLE: "intake",
        FLOODGATE_OTLP_URL: otlpUrl,
        FLOODGATE_TRACE_SAMPLE_PERCENT: "1",
      }),
    );
    await startProcess(
      "worker",
      ["service", "orders"],
      withUrls("worker", 35, { FLOODGATE_ORDERS_ROLE: "worker" }),
    );
    // All load comes from one address here, so the per-IP limit is off; the per-user limit stays
    // at its default and is part of what is measured.
    const gatewayEnv = (orders: string) => ({
      ...withUrls("gateway", 36),
      FLOODGATE_SERVICE_URLS: serviceUrls(orders),
      FLOODGATE_GATEWAY_IP_RATE: "0",
      FLOODGATE_GATEWAY_HEALTH_INTERVAL_MS: "200",
    });
    const gateway = await startProcess("gateway", ["gateway"], gatewayEnv(at(ports.intake)));
    const gatewayTwo = await startProcess(
      "gateway2",
      ["gateway"],
      gatewayEnv(`${at(ports.intake)}|${at(ports.intake2)}`),
    );

    const adminToken = `Bearer ${tokens.issue({ userId: "ops", admin: true })}`;
    const post = (path: string, body: unknown) =>
      fetch(`${back}${path}`, {
        method: "POST",
        headers: { authorization: adminToken, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.status);
    const created = await post("/admin/products", {
      sku: SKU,
      name: "Bench",
      priceCents: 100,
      currency: "EUR",
    });
    const opened = await post("/admin/sales", {
      sku: SKU,
      stock: 50_000_000,
      perUserLimit: 1000,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    if (created !== 201 || opened !== 201)
      throw new Error(`seeding failed: product ${created}, sale ${opened}`);
    writeFileSync(
      join(dir, "tokens.txt"),
      `${Array.from({ length: 20_000 }, (_, i) => tokens.issue({ userId: `buyer-${i}` })).join("\n")}\n`,
    );

    // Warm-up: JIT, connection pools, the token verifier's cache.
    for (const url of [intake, gateway, traced]) await wrk(`${url}/orders`, 64, 3);

    const targets = {
      direct: `${intake}/orders`,
      gateway: `${gateway}/orders`,
      traced: `${traced}/orders`,
    } as const;
    const throughput: Record<keyof typeof targets, number[]> = { direct: [], gateway: [], traced: [] };
    const p99: Record<"direct" | "gateway", number[]> = { direct: [], gateway: [] };
    const p50: Record<"direct" | "gateway", number[]> = { direct: [], gateway: [] };
    const raw: unknown[] = [];
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      for (const name of Object.keys(targets) as (keyof typeof targets)[]) {
        const result = await wrk(targets[name], 64, SECONDS);
        throughput[name].push(result.rps);
        raw.push({ run: runIndex, target: name, connections: 64, ...result });
        process.stderr.write(
          `run ${runIndex + 1} ${name} 64c: ${result.rps.toFixed(0)} req/s p99 ${result.p99_ms} ms 5xx ${result.s5xx}\n`,
        );
      }
      for (const name of ["direct", "gateway"] as const) {
        const result = await wrk(targets[name], 2, SECONDS);
        p99[name].push(result.p99_ms);
        p50[name].push(result.p50_ms);
        raw.push({ run: runIndex, target: name, connections: 2, ...result });
        process.stderr.write(
          `run ${runIndex + 1} ${name} 2c: p50 ${result.p50_ms} ms p99 ${result.p99_ms} ms\n`,
        );
      }
    }

    const rolling: { s5xx: number; socket_errors: number; requests: number; s4xx: number }[] = [];
    for (let runIndex = 0; runIndex < 3; runIndex++) {
      const load = wrk(`${gatewayTwo}/orders`, 64, 20);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await restart("intake");
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await restart("intake2");
      const result = await load;
      rolling.push(result);
      raw.push({ run: runIndex, target: "rolling-restart", connections: 64, ...result });
      process.stderr.write(
        `rolling restart ${runIndex + 1}: ${result.requests} requests, 5xx ${result.s5xx}, socket errors ${result.socket_errors}\n`,
      );
    }

    const summary = {
      command: `npx tsx bench/gateway/run.ts --runs ${RUNS} --seconds ${SECONDS}`,
      date: new Date().toISOString(),
      commit: (await run("git", ["rev-parse", "--short", "HEAD"], { cwd: REPOSITORY_ROOT })).stdout.trim(),
      cores: (await import("node:os")).cpus().length,
      gateway: {
        directRps: median(throughput.direct),
        gatewayRps: median(throughput.gateway),
        throughputRatio: median(throughput.gateway) / median(throughput.direct),
        directP50Ms: median(p50.direct),
        gatewayP50Ms: median(p50.gateway),
        directP99Ms: median(p99.direct),
        gatewayP99Ms: median(p99.gateway),
        p99OverheadMs: median(p99.gateway) - median(p99.direct),
      },
      tracing: {
        offRps: median(throughput.direct),
        onRps: median(throughput.traced),
        ratio: median(throughput.traced) / median(throughput.direct),
        exportedBytes: exported,
      },
      rollingRestart: rolling,
      raw,
    };
    mkdirSync(join(REPOSITORY_ROOT, "bench/results"), { recursive: true });
    const out = join(REPOSITORY_ROOT, `bench/results/gateway-${summary.date.replaceAll(":", "-")}.json`);
    writeFileSync(out, JSON.stringify(summary, null, 2));
    const { raw: _raw, ...shown } = summary;
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\nwritten to ${out}\n`);
  } finally {
    for (const { child } of children.values()) child.kill("SIGKILL");
    sink.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
