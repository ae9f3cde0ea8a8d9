import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokenService } from "../platform/auth/tokens.js";
import { gatherFlashSaleAudit } from "./flash-sale-audit.js";
import { buildGeneratorJob } from "./generator-job.js";
import { checkFlashSaleInvariants } from "./invariants.js";
import { runMeasuredLoad } from "./measured-load.js";
import { type Baseline, isOrderBurst } from "./options.js";
import type { RunRecord } from "./report/result-types.js";
import type { RunContext } from "./run-context.js";
import { toRunRecord } from "./run-record.js";
import { syntheticProductIds } from "./seed.js";
import { listeningPids } from "./server-cpu.js";
import { startBaselineTarget } from "./target/baseline-target.js";
import { trackTemporaryDirectory } from "./target/child-process.js";
import { addressesIn } from "./target/target-adapters.js";
import { TargetApi } from "./target-api.js";
import { warmUp, warmUpStock, warmUpWorkload } from "./warm-up.js";
import type { WorkloadSpec } from "./workload.js";

const BASELINE_SKU = "BENCH-NAIVE";
const BASELINE_WARM_UP_SKU = "BENCH-WARMUP";

/**
 * One baseline run, loaded by the same generator with the same settings as Floodgate: the same
 * request shapes, buyers, keys and Zipf ids, the same model, connections and length.
 */
export async function runBaselineOnce(
  context: RunContext,
  baseline: Exclude<Baseline, "uncached">,
  run: number,
): Promise<RunRecord> {
  const { options, progress } = context;
  const label = `${baseline} run ${run}/${options.runs}`;
  progress.begin(`${label}: starting the ${baseline} baseline`);
  const dataDir = baseline === "naive" ? mkdtempSync(join(tmpdir(), "floodgate-bench-naive-")) : null;
  const untrack = dataDir ? trackTemporaryDirectory(dataDir) : () => {};
  const target = await startBaselineTarget(
    baseline === "ceiling"
      ? { kind: "ceiling" }
      : {
          kind: "naive",
          authSecret: context.authSecret,
          stock: [
            { sku: BASELINE_SKU, units: options.stock },
            { sku: BASELINE_WARM_UP_SKU, units: warmUpStock(options.warmup) },
          ],
          databaseUrl: options.databaseUrl,
          dataDir: dataDir!,
        },
  );
  try {
    const workload: WorkloadSpec = {
      scenario: options.scenario,
      authSecret: context.authSecret,
      seed: options.seed + run,
      runTag: randomBytes(4).toString("hex"),
      users: options.users,
      userPrefix: "buyer",
      sku: BASELINE_SKU,
      productIds: isOrderBurst(options.scenario) ? [] : syntheticProductIds(options.products),
      zipfExponent: options.zipfExponent,
      mix: options.mix,
    };
    if (options.warmup > 0) progress.note(`${label}: warming up with ${options.warmup} requests`, true);
    const warmedUp = await warmUp(options, target.url, warmUpWorkload(workload, BASELINE_WARM_UP_SKU));
    const startedAt = new Date().toISOString();
    const job = buildGeneratorJob(options, target.url, workload);
    // The naive endpoint on PostgreSQL: the server's CPU is its work too, accounted apart from "others".
    const serverPids =
      baseline === "naive" && options.databaseUrl
        ? [...listeningPids(addressesIn(options.databaseUrl).map((address) => address.port)).values()]
        : [];
    const { result, cpu } = await runMeasuredLoad(
      job,
      target.pid,
      (update) => progress.load(label, update),
      serverPids,
    );
    // The naive endpoint's orders are audited like Floodgate's: its results count only if it kept
    // the same promises (each order is final in its transaction, so there is nothing to drain).
    const invariants =
      baseline === "naive" && isOrderBurst(options.scenario)
        ? checkFlashSaleInvariants(
            await gatherFlashSaleAudit(
              new TargetApi(
                target.url,
                `Bearer ${new TokenService(context.authSecret).issue({ userId: "bench-admin", admin: true })}`,
              ),
              { sku: BASELINE_SKU, stock: options.stock },
              {
                acceptedOrderIds: result.acceptedOrderIds,
                accepted202: result.statusCounts["202"] ?? 0,
                soldOutAnswers: result.errorCodes.sold_out ?? 0,
              },
              { reconciles: false },
            ),
          )
        : null;
    const record = toRunRecord({
      target: baseline,
      run,
      startedAt,
      result,
      serverSeries: null,
      seeding: null,
      warmUp: warmedUp,
      cpu,
      drain: null,
      invariants,
    });
    return { ...record, cpuProfile: null, targetExit: await target.stop() };
  } catch (error) {
    await target.stop();
    throw new Error(`${label} failed: ${(error as Error).message}\ntarget output:\n${target.output()}`, {
      cause: error,
    });
  } finally {
    untrack();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}
