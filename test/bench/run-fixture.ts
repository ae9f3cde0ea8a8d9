import type { LatencySummary } from "../../src/bench/latency.js";
import type { RunRecord } from "../../src/bench/report/result-types.js";
import type { TelemetrySample } from "../../src/platform/observability/telemetry.js";

/** Crafted inputs for the report's pure computations: no timing, no server. */

export function latency(p99: number, p50 = p99 / 4): LatencySummary {
  return { count: 100, mean: p50, p50, p90: p99 / 2, p99, p999: p99 * 1.5, max: p99 * 2 };
}

/** A 500 ms telemetry sample at `at` with the given rates (everything else zero). */
export function sample(
  at: number,
  rates: { accepted?: number; writes?: number; queue?: number } = {},
): TelemetrySample {
  return {
    at,
    requestsPerSecond: rates.accepted ?? 0,
    acceptedPerSecond: rates.accepted ?? 0,
    rejectedPerSecond: 0,
    queueDepth: rates.queue ?? 0,
    deadLetters: 0,
    redelivered: 0,
    dbWritesPerSecond: rates.writes ?? 0,
    dbWriteCeilingPerSecond: null,
    cacheHitRatio: null,
    cacheL1HitRatio: null,
    cacheLoadsPerSecond: 0,
    cacheFilterRejectionsPerSecond: 0,
    cacheSingleflightJoinsPerSecond: 0,
    cacheEvictionsPerSecond: 0,
    eventLoopLagMs: 0,
    stock: {},
    orders: {},
    orderStatuses: { created: 0, paid: 0, shipped: 0, completed: 0, cancelled: 0, refunded: 0 },
    orderStatusesPerSecond: { created: 0, paid: 0, shipped: 0, completed: 0, cancelled: 0, refunded: 0 },
    payments: {},
    emailsSent: {},
    emailAttemptsFailed: {},
    loyaltyPoints: { awarded: 0, reversed: 0 },
  };
}

export function craftedRun(
  target: RunRecord["target"],
  index: number,
  rps: number,
  p99: number,
  extra: Partial<RunRecord> = {},
): RunRecord {
  return {
    target,
    run: index,
    startedAt: "2025-01-01T00:00:00.000Z",
    throughputRps: rps,
    latencyMs: latency(p99),
    generator: {
      model: "closed",
      startedAt: 10_000,
      durationMs: 1000,
      sent: rps,
      completed: rps,
      throughputRps: rps,
      latencyMs: latency(p99),
      latencyByKindMs: {},
      statusCounts: { "202": 10, "409": rps - 10 },
      errorCodes: {},
      transportErrors: {},
      series: [],
      acceptedOrders: 10,
      cpu: { userMs: 400, systemMs: 100, wallMs: 1000, coresUsed: 0.5, processTotalMs: 900 },
      sendLagMs: null,
      truncated: false,
    },
    serverSeries: null,
    cpu: {
      wallMs: 1000,
      machineCores: 1.9,
      targetCores: 1,
      generatorCores: 0.5,
      benchCores: 0.02,
      serverCores: null,
      otherCores: 0.1,
    },
    seeding: null,
    warmUp: null,
    drain: null,
    invariants: null,
    cpuProfile: null,
    targetExit: null,
    ...extra,
  };
}
