import { runGeneratorProcess } from "./generator/fork-generator.js";
import { REQUEST_TIMEOUT_MS } from "./generator-job.js";
import type { BenchOptions } from "./options.js";
import type { WorkloadSpec } from "./workload.js";

/** What the warm-up did; its latencies are deliberately not kept: it is not part of the measurement. */
export interface WarmUpRecord {
  readonly requests: number;
  readonly durationMs: number;
  readonly throughputRps: number;
  readonly statusCounts: Record<string, number>;
}

const WARM_UP_DEADLINE_MS = 5 * 60_000;

/** Units on sale for the warm-up: half its orders are accepted, half refused, so both paths run. */
export function warmUpStock(warmupRequests: number): number {
  return Math.max(1, Math.ceil(warmupRequests / 2));
}

/**
 * Sends `--warmup` requests of the same scenario (orders go to a separate warm-up SKU, from
 * other buyers) through the same kind of generator process, closed model, before the measured
 * run, so the target's JIT has compiled its hot paths as on a server that has been up a while.
 */
export async function warmUp(
  options: BenchOptions,
  url: string,
  workload: WorkloadSpec,
): Promise<WarmUpRecord | null> {
  if (options.warmup === 0) return null;
  const result = await runGeneratorProcess(
    {
      generator: options.generator,
      url,
      model: { kind: "closed", connections: Math.min(options.model.connections, options.warmup) },
      length: { kind: "requests", count: options.warmup },
      workload,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      deadlineMs: WARM_UP_DEADLINE_MS,
    },
    () => {},
  );
  return {
    requests: result.completed,
    durationMs: result.durationMs,
    throughputRps: result.throughputRps,
    statusCounts: result.statusCounts,
  };
}

/** The measured workload, turned to other buyers, keys and (for orders) the warm-up SKU. */
export function warmUpWorkload(measured: WorkloadSpec, warmUpSku: string): WorkloadSpec {
  return {
    ...measured,
    seed: measured.seed ^ 0x9e3779b9,
    runTag: `${measured.runTag}w`,
    userPrefix: "warmup",
    users: Math.max(1, measured.users),
    sku: warmUpSku,
  };
}
