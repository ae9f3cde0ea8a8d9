// The cache race explorer: generated schedules of writes, reads (fast and slow loads), warms,
// invalidation messages lost or delayed, L2 outages with restores from older snapshots and
// evictions, run on a virtual clock against the real ReadThroughCache, L1 and compare-and-set
// code, with every read checked against the bound docs/architecture.md states.
//
// A failure prints fast-check's seed and path. Replay one exactly with
//   FLOODGATE_EXPLORER_SEED=<seed> FLOODGATE_EXPLORER_PATH=<path> npx vitest run test/platform/cache/race-explorer.test.ts
// and explore longer with FLOODGATE_EXPLORER_RUNS=<n>, or with new schedules each run with
// FLOODGATE_EXPLORER_SEED=random.
//
// The default seed is fixed, so `npm test` checks the same 2,000 schedules every time. Random
// seeds found two schedules that broke the bound; both are fixed in the cache code, pinned by
// tests in read-through-cache.test.ts and versioned-conformance.ts, and pass now
// (docs/architecture.md, "Known gaps in the cache's bound"):
//   FLOODGATE_EXPLORER_SEED=662318084  (memcached: a fill that landed after the retirement it had
//                                       to lose against expired; L2 now checks a landing deadline)
//   FLOODGATE_EXPLORER_SEED=20261203   (Redis, a restore: the writer's floor lapsed before another
//                                       process's older entry; floors now last `longestTtlMs`)
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scenarios } from "./race-explorer/scenario.js";
import { checkBound, emptyCoverage } from "./race-explorer/staleness-bound.js";
import { runScenario } from "./race-explorer/world.js";

const RUNS = Number(process.env.FLOODGATE_EXPLORER_RUNS ?? 2000);
const FIXED_SEED = "42";
const SEED_SETTING = process.env.FLOODGATE_EXPLORER_SEED ?? FIXED_SEED;
const SEED = SEED_SETTING === "random" ? undefined : SEED_SETTING;
const PATH = process.env.FLOODGATE_EXPLORER_PATH;

describe("cache race explorer", () => {
  it(`holds the staleness bound on every read, over ${RUNS} generated schedules`, async () => {
    let schedules = 0;
    const coverage = emptyCoverage();
    const events = { restores: 0, evictions: 0, writes: 0, warms: 0, lostMessages: 0 };
    await fc.assert(
      fc.asyncProperty(scenarios, fc.integer(), async (scenario, jitterSeed) => {
        const outcome = await runScenario(scenario, jitterSeed);
        schedules += 1;
        for (const action of scenario.actions) {
          if (action.kind === "restore" && scenario.mode !== "memory") events.restores += 1;
          if (action.kind === "evict" && scenario.mode !== "memory") events.evictions += 1;
          if (action.kind === "write") events.writes += 1;
          if (action.kind === "warm") events.warms += 1;
        }
        if (scenario.mode === "redis")
          events.lostMessages += scenario.fates.filter((fate) => fate.lost).length;
        const problems = checkBound(outcome, coverage);
        if (problems.length > 0) throw new Error(problems.slice(0, 5).join("\n"));
      }),
      {
        numRuns: RUNS,
        ...(SEED === undefined ? {} : { seed: Number(SEED) }),
        ...(PATH === undefined ? {} : { path: PATH }),
      },
    );
    console.info(
      `cache race explorer: ${schedules} schedules, ${coverage.reads} reads checked ` +
        `(${coverage.staleAllowed} older than committed, within the bound), ` +
        `bound by ${JSON.stringify(coverage.boundBy)}; ${JSON.stringify(events)}`,
    );
    expect(schedules).toBeGreaterThan(0);
  });
});
