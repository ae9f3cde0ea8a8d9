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
/** A sale with stock for every request: each order is reserved, priced and appended. */
const SKU = "BENCH-GW";
/**
 * A sale that sold out in its first second: every request is answered 409 by the intake's
 * sold-out flag, as most requests of a real flash sale are. The cheapest request there is, so
 * the hop through the gateway weighs the most here.
 */
const SOLD_OUT_SKU = "BENCH-GW-SOLDOUT";
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

async function wrk(
  url: string,
  connections: number,
  seconds: number,
  sku = SKU,
): Promise<WrkResult & { rps: number }> {
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
      env: { ...process.env, FLOODGATE_BENCH_TOKENS: join(dir, "tokens.txt"), FLOODGATE_BENCH_SKU: sku },
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
      // Processes on one loopback: internal calls on the public ports (production mode, implied by
      // the server URLs, would want an internal port per process).
      FLOODGATE_ENV: "development",
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
    await post("/admin/products", { sku: SOLD_OUT_SKU, name: "Sold out", priceCents: 100, currency: "EUR" });
    await post("/admin/sales", {
      sku: SOLD_OUT_SKU,
      stock: 10,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    writeFileSync(
      join(dir, "tokens.txt"),
      `${Array.from({ length: 20_000 }, (_, i) => tokens.issue({ userId: `buyer-${i}` })).join("\n")}\n`,
    );

    const targets = { direct: intake, gateway, traced } as const;
    type Target = keyof typeof targets;
    const workloads = { accept: SKU, soldOut: SOLD_OUT_SKU } as const;
    type Workload = keyof typeof workloads;
    const series = () => ({ direct: [] as number[], gateway: [] as number[], traced: [] as number[] });
    const throughput: Record<Workload, Record<Target, number[]>> = { accept: series(), soldOut: series() };
    const p99: Record<Workload, Record<Target, number[]>> = { accept: series(), soldOut: series() };
    const p50: Record<Workload, Record<Target, number[]>> = { accept: series(), soldOut: series() };
    const raw: unknown[] = [];
    // Warm-up: JIT, connection pools, the token verifier's cache; and the small sale sells out.
    for (const url of Object.values(targets)) {
      for (const sku of Object.values(workloads)) await wrk(`${url}/orders`, 64, 3, sku);
    }
    for (let runIndex = 0; runIndex < RUNS; runIndex++) {
      for (const workload of Object.keys(workloads) as Workload[]) {
        for (const name of Object.keys(targets) as Target[]) {
          const loaded = await wrk(`${targets[name]}/orders`, 64, SECONDS, workloads[workload]);
          throughput[workload][name].push(loaded.rps);
          raw.push({ run: runIndex, workload, target: name, connections: 64, ...loaded });
          const light = await wrk(`${targets[name]}/orders`, 2, SECONDS, workloads[workload]);
          p99[workload][name].push(light.p99_ms);
          p50[workload][name].push(light.p50_ms);
          raw.push({ run: runIndex, workload, target: name, connections: 2, ...light });
          process.stderr.write(
            `run ${runIndex + 1} ${workload} ${name}: ${loaded.rps.toFixed(0)} req/s (2xx ${loaded.s2xx} 4xx ${loaded.s4xx} 5xx ${loaded.s5xx}); ` +
              `2 connections p50 ${light.p50_ms} ms p99 ${light.p99_ms} ms\n`,
          );
        }
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

    const figures = (workload: Workload) => ({
      directRps: median(throughput[workload].direct),
      gatewayRps: median(throughput[workload].gateway),
      gatewayThroughputRatio: median(throughput[workload].gateway) / median(throughput[workload].direct),
      directP50Ms: median(p50[workload].direct),
      gatewayP50Ms: median(p50[workload].gateway),
      directP99Ms: median(p99[workload].direct),
      gatewayP99Ms: median(p99[workload].gateway),
      gatewayP99OverheadMs: median(p99[workload].gateway) - median(p99[workload].direct),
      tracedRps: median(throughput[workload].traced),
      tracingThroughputRatio: median(throughput[workload].traced) / median(throughput[workload].direct),
      tracedP99Ms: median(p99[workload].traced),
    });
    const summary = {
      command: `npx tsx bench/gateway/run.ts --runs ${RUNS} --seconds ${SECONDS}`,
      date: new Date().toISOString(),
      commit: (await run("git", ["rev-parse", "--short", "HEAD"], { cwd: REPOSITORY_ROOT })).stdout.trim(),
      cores: (await import("node:os")).cpus().length,
      loadAverageAtEnd: (await import("node:os")).loadavg(),
      accept: figures("accept"),
      soldOut: figures("soldOut"),
      tracingExportedBytes: exported,
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
