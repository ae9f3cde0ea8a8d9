import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokenService } from "../../platform/auth/tokens.js";
import type { MemoryDiagnostics } from "../../platform/http/diagnostics-routes.js";
import { waitForDrain } from "../flash-sale-audit.js";
import { runGeneratorProcess } from "../generator/fork-generator.js";
import type { GeneratorJob, GeneratorResult } from "../generator/messages.js";
import { REQUEST_TIMEOUT_MS } from "../generator-job.js";
import { createFreshDatabases, type FreshDatabases } from "../lifecycle/fresh-databases.js";
import type { ProgressReporter } from "../progress.js";
import { openSale } from "../seed.js";
import { trackInterruptCleanup, trackTemporaryDirectory } from "../target/child-process.js";
import { startFloodgateTarget } from "../target/floodgate-target.js";
import { removeLeftovers } from "../target/run-cleanup.js";
import { hasLeftovers, RUN_TAG_LENGTH, runNamespace } from "../target/run-namespace.js";
import type { RunningTarget } from "../target/running-target.js";
import { TargetApi } from "../target-api.js";
import type { WorkloadSpec } from "../workload.js";
import { type RedisFootprint, redisFootprint } from "./redis-footprint.js";
import { sweepSecondsTotal } from "./soak-figures.js";
import type { SoakOptions } from "./soak-options.js";

/** One batch of orders never runs longer than this (the bench's usual bound for a closed run). */
const BATCH_DEADLINE_MS = 10 * 60_000;

/** A checkpoint: once every order accepted so far is stored, the target's memory after a forced GC. */
export interface SoakPoint {
  /** Epoch ms when the figures were read. */
  readonly atMs: number;
  readonly accepted: number;
  /** Units sold by the sale (one per stored order); null when the sale could not be read. */
  readonly stored: number | null;
  /** Units still reserved (accepted, not yet stored): 0 once drained. */
  readonly reserved: number | null;
  readonly drainMs: number;
  /** True when the target ran a full GC before reading (it runs with --expose-gc). */
  readonly gc: boolean;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly rss: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly heapSizeLimit: number;
  /** `inventory_sweep_seconds_total` on /metrics; null when the target does not expose it. */
  readonly sweepSeconds: number | null;
  /** With the stock in Redis: the run's keys there and their memory; null otherwise. */
  readonly redisStock: RedisFootprint | null;
  /** Accepted orders per second over the batch before this checkpoint (load only). */
  readonly ordersPerSecond: number | null;
}

/** A stop and start of the target on the same data, timed until /readyz answers 200. */
export interface SoakRestart {
  readonly storedOrders: number | null;
  /** From SIGTERM to the old process's exit. */
  readonly stopMs: number;
  /** From spawning the new process to its first 200 on /readyz (node and tsx start-up included). */
  readonly readyMs: number;
  /** The new process's heap after a forced GC, once ready: what it loaded at start. */
  readonly heapUsedAfterStart: number;
  readonly rssAfterStart: number;
}

export interface SoakRunResult {
  readonly sku: string;
  readonly points: readonly SoakPoint[];
  readonly restarts: readonly SoakRestart[];
  /** Responses by HTTP status over every batch. */
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly transportErrors: Readonly<Record<string, number>>;
  /** Seconds the generator spent sending (batches only, no drains or checkpoints). */
  readonly loadSeconds: number;
  readonly wallSeconds: number;
}

function add(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
}

/**
 * The soak: one Floodgate (its own data dir; its own prefixes and databases on shared servers),
 * one sale with stock far above demand, then batches of orders from the bench's load generator —
 * each request its own buyer token and Idempotency-Key — up to a checkpoint every `every` accepted
 * orders. At each checkpoint it waits until every accepted order is stored, then reads the
 * target's memory after a forced GC (GET /admin/diagnostics/memory) and the sweeper's counter.
 * The target is restarted on the same data with no orders and at the end (and at every checkpoint
 * with --restart-at-checkpoints), timed until ready.
 */
export async function runSoak(
  options: SoakOptions,
  authSecret: string,
  progress: ProgressReporter,
): Promise<SoakRunResult> {
  const started = Date.now();
  const tag = randomBytes(RUN_TAG_LENGTH / 2).toString("hex");
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-bench-soak-"));
  const untrackDir = trackTemporaryDirectory(dataDir);
  const namespace = runNamespace(options.targetEnv, tag);
  let databases: FreshDatabases | null = null;
  const cleanUpShared = async () => {
    const errors: string[] = [];
    if (hasLeftovers(namespace.leftovers) || namespace.leftovers.expiring.length > 0) {
      errors.push(...(await removeLeftovers(namespace.leftovers)).errors);
    }
    if (databases) errors.push(...(await databases.drop()));
    return errors;
  };
  const untrackShared = trackInterruptCleanup(cleanUpShared);
  const admin = `Bearer ${new TokenService(authSecret).issue({ userId: "bench-admin", admin: true })}`;
  let target: RunningTarget | null = null;
  let api: TargetApi | null = null;
  try {
    const env: Record<string, string> = { ...options.targetEnv, ...namespace.env };
    if (env.FLOODGATE_DATABASE_URLS) {
      databases = await createFreshDatabases(env.FLOODGATE_DATABASE_URLS.split(","), tag);
      env.FLOODGATE_DATABASE_URLS = databases.urls.join(",");
    }
    // The same data dir, prefixes and databases every time: a restart finds what the last one left.
    const start = async () => {
      const begun = performance.now();
      const running = await startFloodgateTarget({
        dataDir,
        authSecret,
        // No write ceiling: the soak measures memory against orders, not peak shaving.
        writeRate: 0,
        batchSize: 500,
        cpuProfileDir: null,
        nodeFlags: ["--expose-gc"],
        env,
      });
      return { running, readyMs: performance.now() - begun };
    };
    progress.begin("soak: starting Floodgate");
    target = (await start()).running;
    api = new TargetApi(target.url, admin, 4);
    const sku = `SOAK-${tag}`;
    await openSale(api, sku, options.stock, options.perUserLimit);
    progress.note(
      `soak: sale ${sku}, stock ${options.stock}, ${options.buyers} buyers, up to ${options.perUserLimit} orders each`,
      true,
    );

    const restarts: SoakRestart[] = [];
    const restart = async (storedOrders: number | null) => {
      const stopping = performance.now();
      await api!.close();
      await target!.stop();
      const stopMs = performance.now() - stopping;
      const { running, readyMs } = await start();
      target = running;
      api = new TargetApi(target.url, admin, 4);
      const memory = await readMemory(api);
      const record: SoakRestart = {
        storedOrders,
        stopMs: Math.round(stopMs),
        readyMs: Math.round(readyMs),
        heapUsedAfterStart: memory.memory.heapUsed,
        rssAfterStart: memory.memory.rss,
      };
      restarts.push(record);
      progress.note(
        `soak: restarted at ${storedOrders ?? "?"} stored orders: stop ${record.stopMs} ms, ready in ${record.readyMs} ms, heap ${mb(record.heapUsedAfterStart)} after GC`,
        true,
      );
    };
    await restart(0);

    // The run's own stock prefix: only its keys are counted on a shared Redis.
    const stockPrefix = namespace.env.FLOODGATE_STOCK_PREFIX;
    const stockRedis =
      env.FLOODGATE_STOCK_URL?.startsWith("redis") && stockPrefix
        ? { url: env.FLOODGATE_STOCK_URL, prefix: stockPrefix }
        : null;
    const points: SoakPoint[] = [await checkpoint(api, sku, stockRedis, 0, 0, null)];
    progress.note(describePoint(points[0]!), true);
    const statusCounts: Record<string, number> = {};
    const errorCodes: Record<string, number> = {};
    const transportErrors: Record<string, number> = {};
    let accepted = 0;
    let loadMs = 0;
    for (let batch = 0; accepted < options.orders; batch++) {
      const goal = Math.min(options.orders, (Math.floor(accepted / options.every) + 1) * options.every);
      const result = await sendBatch(
        options,
        authSecret,
        target.url,
        sku,
        `${tag}b${batch}`,
        goal - accepted,
        {
          onProgress: (update) =>
            progress.load("soak", {
              // Elapsed load time over every batch, so the printed rate carries across batches.
              elapsedMs: loadMs + update.elapsedMs,
              completed: accepted + update.completed,
              errors: update.errors,
            }),
        },
      );
      add(statusCounts, result.statusCounts);
      add(errorCodes, result.errorCodes);
      add(transportErrors, result.transportErrors);
      const acceptedNow = result.statusCounts["202"] ?? 0;
      if (acceptedNow === 0) {
        throw new Error(
          `a batch of ${result.sent} orders had none accepted: statuses ${JSON.stringify(result.statusCounts)}, errors ${JSON.stringify(result.errorCodes)}`,
        );
      }
      accepted += acceptedNow;
      loadMs += result.durationMs;
      if (accepted < goal) continue; // refusals: top the batch up before the checkpoint
      const point = await checkpoint(api, sku, stockRedis, accepted, options.drainTimeoutSeconds * 1000, {
        accepted: acceptedNow,
        ms: result.durationMs,
      });
      points.push(point);
      progress.note(describePoint(point), true);
      if (options.restartAtCheckpoints && accepted < options.orders) await restart(point.stored);
    }
    await restart(points.at(-1)!.stored);
    return {
      sku,
      points,
      restarts,
      statusCounts,
      errorCodes,
      transportErrors,
      loadSeconds: Math.round(loadMs / 100) / 10,
      wallSeconds: Math.round((Date.now() - started) / 100) / 10,
    };
  } catch (error) {
    const output = (target as RunningTarget | null)?.output();
    throw new Error(
      `soak failed: ${(error as Error).message}${output ? `\ntarget output:\n${output}` : ""}`,
      {
        cause: error,
      },
    );
  } finally {
    await (api as TargetApi | null)?.close().catch(() => {});
    await (target as RunningTarget | null)?.stop();
    const errors = await cleanUpShared();
    if (errors.length) progress.note(`soak: could not remove everything it made: ${errors.join("; ")}`, true);
    untrackShared();
    untrackDir();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** `count` orders from a generator process: each its own Idempotency-Key, buyers in turn. */
function sendBatch(
  options: SoakOptions,
  authSecret: string,
  url: string,
  sku: string,
  runTag: string,
  count: number,
  callbacks: { onProgress: Parameters<typeof runGeneratorProcess>[1] },
): Promise<GeneratorResult> {
  // The mixed scenario with orders only: order n goes to buyer n mod buyers with key <runTag>-o<n>.
  const workload: WorkloadSpec = {
    scenario: "mixed",
    authSecret,
    seed: 1,
    runTag,
    users: options.buyers,
    userPrefix: "soak",
    sku,
    productIds: [],
    zipfExponent: 1,
    mix: { browse: 0, order: 1, poll: 0 },
  };
  const job: GeneratorJob = {
    // The soak's buyers are a mixed workload (orders only), which wrk does not drive.
    generator: "node",
    url,
    model: { kind: "closed", connections: options.connections },
    length: { kind: "requests", count },
    workload,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    deadlineMs: BATCH_DEADLINE_MS,
  };
  return runGeneratorProcess(job, callbacks.onProgress);
}

async function readMemory(api: TargetApi): Promise<MemoryDiagnostics> {
  return api.expect<MemoryDiagnostics>(200, "GET", "/admin/diagnostics/memory", { admin: true });
}

async function checkpoint(
  api: TargetApi,
  sku: string,
  stockRedis: { readonly url: string; readonly prefix: string } | null,
  accepted: number,
  drainTimeoutMs: number,
  batch: { accepted: number; ms: number } | null,
): Promise<SoakPoint> {
  const drain = await waitForDrain(api, sku, {
    timeoutMs: Math.max(drainTimeoutMs, 1000),
    queueDepth: () => undefined,
    onProgress: () => {},
  });
  if (!drain.drained) {
    throw new Error(`${drain.reservedAtEnd ?? "?"} orders still not stored after ${drain.waitedMs} ms`);
  }
  const metrics = await api.expect<string>(200, "GET", "/metrics");
  const memory = await readMemory(api);
  const levels = await api.expect<{ levels?: { sold: number; reserved: number } }>(
    200,
    "GET",
    `/admin/sales/${sku}`,
    { admin: true },
  );
  return {
    atMs: Date.now(),
    accepted,
    stored: levels.levels?.sold ?? null,
    reserved: levels.levels?.reserved ?? null,
    drainMs: drain.waitedMs,
    gc: memory.gc,
    heapUsed: memory.memory.heapUsed,
    heapTotal: memory.memory.heapTotal,
    rss: memory.memory.rss,
    external: memory.memory.external,
    arrayBuffers: memory.memory.arrayBuffers,
    heapSizeLimit: memory.memory.heapSizeLimit,
    sweepSeconds: sweepSecondsTotal(String(metrics)),
    redisStock: stockRedis ? await redisFootprint(stockRedis.url, stockRedis.prefix) : null,
    ordersPerSecond: batch && batch.ms > 0 ? Math.round((batch.accepted / batch.ms) * 1000) : null,
  };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function describePoint(point: SoakPoint): string {
  return `soak: ${point.accepted.toLocaleString("en-US")} accepted, ${point.stored?.toLocaleString("en-US") ?? "?"} stored: heap ${mb(point.heapUsed)}${point.gc ? " after GC" : " (no GC: not run with --expose-gc)"}, RSS ${mb(point.rss)}${point.redisStock ? `, Redis ${point.redisStock.keys} keys ${mb(point.redisStock.bytes)}` : ""}${point.ordersPerSecond === null ? "" : `, ${point.ordersPerSecond}/s`}, drained in ${point.drainMs} ms`;
}
