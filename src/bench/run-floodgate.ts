import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokenService } from "../platform/auth/tokens.js";
import {
  keepMainThreadProfile,
  type MonotonicWindow,
  monotonicMicros,
  readCpuProfile,
  summarizeCpuProfile,
} from "./cpu-profile.js";
import { type DrainOutcome, gatherFlashSaleAudit, waitForDrain } from "./flash-sale-audit.js";
import { buildGeneratorJob } from "./generator-job.js";
import { checkFlashSaleInvariants } from "./invariants.js";
import { runMeasuredLoad } from "./measured-load.js";
import { isOrderBurst, type TargetName } from "./options.js";
import type { RunRecord } from "./report/result-types.js";
import type { RunContext } from "./run-context.js";
import { toRunRecord } from "./run-record.js";
import { seedScenario } from "./seed.js";
import { SeriesPoller } from "./series-poller.js";
import { listeningPids } from "./server-cpu.js";
import { REPOSITORY_ROOT, trackInterruptCleanup, trackTemporaryDirectory } from "./target/child-process.js";
import { startFloodgateTarget } from "./target/floodgate-target.js";
import { type CleanupOutcome, removeLeftovers } from "./target/run-cleanup.js";
import { hasLeftovers, RUN_TAG_LENGTH, type RunNamespace, runNamespace } from "./target/run-namespace.js";
import type { RunningTarget } from "./target/running-target.js";
import { serverAddresses } from "./target/target-adapters.js";
import { TargetApi } from "./target-api.js";
import { warmUp, warmUpWorkload } from "./warm-up.js";
import type { WorkloadSpec } from "./workload.js";

/** A drain that takes longer than this is reported as not drained (and fails the invariants). */
const MAX_DRAIN_MS = 15 * 60_000;
/** After the load, wait this long so the telemetry covers the run's tail (two 500 ms samples). */
const QUIET_TAIL_MS = 1200;
const PROFILE_TOP_ENTRIES = 25;

/** Time the worker needs for `accepted` orders at `writeRate`, doubled, plus a minute. */
export function drainTimeoutMs(accepted: number, writeRate: number): number {
  const writing = writeRate > 0 ? (accepted / writeRate) * 1000 : accepted;
  return Math.min(MAX_DRAIN_MS, Math.ceil(writing * 2 + 60_000));
}

type MeasuredRun = Omit<RunRecord, "cpuProfile" | "targetExit" | "sharedState">;

/**
 * One Floodgate run: start a fresh target (or use --url), measure it, and stop it gracefully in
 * every case (a failed run must not leave a server behind); stopping writes the CPU profile.
 */
/** Which Floodgate a run measures: the one configured by the options, or a variant of it. */
export interface FloodgateVariant {
  readonly target: TargetName;
  /** Settings on top of --target-env (e.g. the uncached baseline's FLOODGATE_CACHE_URL=none://). */
  readonly env: Readonly<Record<string, string>>;
  /** A closed-model run of --at-fraction-of-max that finds the maximum (named apart in progress and files). */
  readonly calibration?: boolean;
}

/** The settings a started target gets, with the run's own prefixes on shared servers. */
function namespaced(env: Readonly<Record<string, string>>): RunNamespace & {
  readonly targetEnv: Record<string, string>;
} {
  const namespace = runNamespace(env, randomBytes(RUN_TAG_LENGTH / 2).toString("hex"));
  return { ...namespace, targetEnv: { ...env, ...namespace.env } };
}

export async function runFloodgateOnce(
  context: RunContext,
  run: number,
  variant: FloodgateVariant = { target: "floodgate", env: {} },
): Promise<RunRecord> {
  const { options, progress } = context;
  const name = variant.calibration ? `${variant.target}-max` : variant.target;
  const label = `${variant.calibration ? `${variant.target} (finding the maximum)` : variant.target} run ${run}/${options.runs}`;
  const dataDir = options.url ? null : mkdtempSync(join(tmpdir(), "floodgate-bench-"));
  const shared = dataDir ? namespaced({ ...options.targetEnv, ...variant.env }) : null;
  // Only what the run itself wrote: its prefixes are its own (run-namespace.ts).
  const removeShared = async (): Promise<CleanupOutcome | null> =>
    shared && (hasLeftovers(shared.leftovers) || shared.leftovers.expiring.length > 0)
      ? removeLeftovers(shared.leftovers)
      : null;
  const untrackShared = shared ? trackInterruptCleanup(removeShared) : () => {};
  const profilePath = join(context.outDir, `${context.filePrefix}-${name}-run${run}.cpuprofile`);
  const profileDir = options.cpuProf ? `${profilePath}.d` : null;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const untrack = [dataDir, profileDir].flatMap((path) => (path ? [trackTemporaryDirectory(path)] : []));
  const cleanUp = (keepProfile: boolean) => {
    for (const done of untrack) done();
    untrackShared();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (profileDir && !keepProfile) rmSync(profileDir, { recursive: true, force: true });
  };
  progress.begin(`${label}: ${options.url ? `using ${options.url}` : "starting Floodgate"}`);
  let target: RunningTarget;
  try {
    target = dataDir
      ? await startFloodgateTarget({
          dataDir,
          authSecret: context.authSecret,
          writeRate: options.writeRate,
          batchSize: options.batchSize,
          cpuProfileDir: profileDir,
          env: shared!.targetEnv,
        })
      : { url: options.url!, pid: null, output: () => "", stop: async () => null };
  } catch (error) {
    await removeShared();
    cleanUp(false);
    throw error;
  }
  // The servers the target works through, so their CPU is accounted to it rather than to "others".
  const serverPids = shared
    ? [...listeningPids(serverAddresses(shared.targetEnv).map((address) => address.port)).values()]
    : [];
  let measured: { record: MeasuredRun; hotPath: MonotonicWindow } | undefined;
  let failure: unknown;
  try {
    measured = await measure(context, run, label, target, variant.target, serverPids);
  } catch (error) {
    failure = error;
  }
  const targetExit = await target.stop();
  const removed = await removeShared();
  if (removed && removed.errors.length > 0) {
    progress.note(
      `${label}: could not remove everything it wrote on shared servers: ${removed.errors.join("; ")}`,
      true,
    );
  }
  cleanUp(measured !== undefined);
  if (!measured) {
    const output = target.output();
    const reason = failure instanceof Error ? failure.message : String(failure);
    throw new Error(`${label} failed: ${reason}${output ? `\ntarget output:\n${output}` : ""}`, {
      cause: failure,
    });
  }
  const cpuProfile =
    profileDir && keepMainThreadProfile(profileDir, profilePath)
      ? summarizeProfile(profilePath, measured.hotPath)
      : null;
  const sharedState = shared && removed ? { prefixes: shared.env, cleanup: removed } : null;
  return { ...measured.record, cpuProfile, targetExit, sharedState };
}

/**
 * Seeds the target through its admin API, warms it up, loads it from a generator process while
 * collecting its telemetry, lets a flash sale's backlog drain and checks the invariants through
 * the API. Returns the run and the profile's hot-path window (first request to end of drain).
 */
async function measure(
  context: RunContext,
  run: number,
  label: string,
  target: RunningTarget,
  targetName: TargetName,
  serverPids: readonly number[],
): Promise<{ record: MeasuredRun; hotPath: MonotonicWindow }> {
  const { options, progress } = context;
  const runTag = randomBytes(4).toString("hex");
  const admin = `Bearer ${new TokenService(context.authSecret).issue({ userId: "bench-admin", admin: true })}`;
  const api = new TargetApi(target.url, admin);
  const poller = new SeriesPoller(api);
  try {
    const startedAt = new Date().toISOString();
    const seeded = await seedScenario(api, options, runTag);
    progress.note(
      `${label}: seeded${seeded.productIds.length ? ` ${seeded.productIds.length} products (cache warmed)` : ""}${
        seeded.sku ? ` sale ${seeded.sku}, stock ${options.stock}` : ""
      }`,
      true,
    );
    const workload: WorkloadSpec = {
      scenario: options.scenario,
      authSecret: context.authSecret,
      seed: options.seed + run,
      runTag,
      users: options.users,
      userPrefix: "buyer",
      sku: seeded.sku,
      productIds: seeded.productIds,
      zipfExponent: options.zipfExponent,
      mix: options.mix,
    };
    if (options.warmup > 0) progress.note(`${label}: warming up with ${options.warmup} requests`, true);
    const warmedUp = await warmUp(options, target.url, warmUpWorkload(workload, seeded.warmUpSku));
    if (warmedUp) {
      progress.note(`${label}: warm-up done at ${Math.round(warmedUp.throughputRps)} req/s`, true);
      // The measured burst must find the worker idle, as a sale's first second would.
      if (seeded.warmUpSku) await drainWarmUp(api, seeded.warmUpSku, options.writeRate, warmedUp.requests);
    }

    poller.start(Date.now() - 1000);
    const { result, cpu } = await runMeasuredLoad(
      buildGeneratorJob(options, target.url, workload),
      target.pid,
      (update) => progress.load(label, update),
      serverPids,
    );
    const drain: DrainOutcome | null = isOrderBurst(options.scenario)
      ? await waitForDrain(api, seeded.sku, {
          timeoutMs: drainTimeoutMs(result.acceptedOrderIds.length, options.url ? 0 : options.writeRate),
          queueDepth: () => poller.latest()?.queueDepth,
          onProgress: (reserved, depth) =>
            progress.note(`${label}: draining — ${reserved ?? "?"} reserved, queue depth ${depth ?? "?"}`),
        })
      : null;
    const epochToMonotonicUs = monotonicMicros() - Date.now() * 1000;
    const hotPath = { startUs: result.startedAt * 1000 + epochToMonotonicUs, endUs: monotonicMicros() };
    await new Promise((resolve) => setTimeout(resolve, QUIET_TAIL_MS));
    const serverSeries = await poller.stop();

    const invariants = isOrderBurst(options.scenario)
      ? checkFlashSaleInvariants(
          await gatherFlashSaleAudit(
            api,
            { sku: seeded.sku, stock: options.stock },
            {
              acceptedOrderIds: result.acceptedOrderIds,
              accepted202: result.statusCounts["202"] ?? 0,
              soldOutAnswers: result.errorCodes.sold_out ?? 0,
            },
          ),
        )
      : null;
    const record = toRunRecord({
      target: targetName,
      run,
      startedAt,
      result,
      serverSeries,
      seeding: { sku: seeded.sku, products: seeded.productIds.length, warmUpReads: seeded.warmUpReads },
      warmUp: warmedUp,
      cpu,
      drain,
      invariants,
    });
    return { record, hotPath };
  } finally {
    poller.cancel();
    await api.close();
  }
}

async function drainWarmUp(api: TargetApi, sku: string, writeRate: number, requests: number): Promise<void> {
  const outcome = await waitForDrain(api, sku, {
    timeoutMs: drainTimeoutMs(requests, writeRate),
    queueDepth: () => undefined,
    onProgress: () => {},
  });
  if (!outcome.drained) throw new Error(`the warm-up's orders did not drain within ${outcome.waitedMs} ms`);
}

/** Summarises the main thread's profile over the hot path, and over the whole process for context. */
function summarizeProfile(path: string, hotPath: MonotonicWindow): NonNullable<RunRecord["cpuProfile"]> {
  const profile = readCpuProfile(path);
  const summarize = (window?: MonotonicWindow) =>
    summarizeCpuProfile(profile, { repositoryRoot: REPOSITORY_ROOT, top: PROFILE_TOP_ENTRIES, window });
  return { file: path, loadWindow: summarize(hotPath), wholeProcess: summarize() };
}
