import fc from "fast-check";
import type { Fate } from "./simulated-redis.js";

/** How the cache is deployed: as `FLOODGATE_CACHE_URL` would choose it. */
export type Mode = "redis" | "memcached" | "memory";

export type Action =
  | {
      readonly kind: "write" | "warm";
      readonly gapMs: number;
      readonly process: number;
      readonly key: number;
    }
  /** `count` reads of one key begun together in one process (they share loads). */
  | {
      readonly kind: "read";
      readonly gapMs: number;
      readonly process: number;
      readonly key: number;
      readonly count: number;
    }
  /** The server goes down; it comes back `downMs` later with the snapshot taken `snapshotAgoMs` before it went down. */
  | {
      readonly kind: "restore";
      readonly gapMs: number;
      readonly snapshotAgoMs: number;
      readonly downMs: number;
    }
  | { readonly kind: "evict"; readonly gapMs: number; readonly key: number };

/** The cache's settings for one run; the bound is computed from them. */
export interface Settings {
  readonly ttlMs: number;
  readonly missingTtlMs: number;
  readonly l1TtlMs: number;
  readonly maxFillAgeMs: number;
  readonly retireTtlMs: number;
  readonly retryIntervalMs: number;
  readonly lockWaitMs: number;
}

/** What production runs with (src/services/catalog, ReadThroughCache's defaults). */
export const PRODUCTION_SETTINGS: Settings = {
  ttlMs: 60_000,
  missingTtlMs: 2_000,
  l1TtlMs: 5_000,
  maxFillAgeMs: 10_000,
  retireTtlMs: 60_000,
  retryIntervalMs: 500,
  lockWaitMs: 300,
};

/**
 * Production's settings most of the time; otherwise short TTLs and limits (any the cache accepts),
 * which make the narrow windows — a load outliving a retirement, an entry's deadline passing while
 * a copy of it is still in L1 — common enough to hit.
 */
const settings: fc.Arbitrary<Settings> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(PRODUCTION_SETTINGS) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        ttlMs: fc.constantFrom(60_000, 15_000, 4_000),
        l1TtlMs: fc.constantFrom(5_000, 1_000),
        maxFillAgeMs: fc.constantFrom(10_000, 2_000),
        retireOverMs: fc.constantFrom(50_000, 500),
      })
      .map(({ ttlMs, l1TtlMs, maxFillAgeMs, retireOverMs }) => ({
        ...PRODUCTION_SETTINGS,
        ttlMs,
        l1TtlMs,
        maxFillAgeMs,
        retireTtlMs: maxFillAgeMs + retireOverMs,
      })),
  },
);

export interface Scenario {
  readonly mode: Mode;
  readonly settings: Settings;
  readonly processes: number;
  readonly keys: number;
  readonly actions: readonly Action[];
  /** Every network trip and database call takes the next of these (then 1 ms). */
  readonly latencies: readonly number[];
  /** Every message to every subscriber meets the next of these (then: arrives after 1 ms). */
  readonly fates: readonly Fate[];
}

/**
 * Mostly quick, sometimes slow (past the command timeout, past the L1 TTL), now and then stalled
 * (a paused process or a hung query: past the fill age limit and the retirement's lifetime).
 */
const latency = fc.oneof(
  { weight: 24, arbitrary: fc.integer({ min: 0, max: 5 }) },
  { weight: 10, arbitrary: fc.integer({ min: 5, max: 400 }) },
  { weight: 4, arbitrary: fc.integer({ min: 400, max: 3000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 3000, max: 15_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 15_000, max: 90_000 }) },
);

/** Actions come in bursts (ms apart) separated by pauses (seconds, past the L1 TTL, up to past the L2 TTL). */
const gap = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 50 }) },
  { weight: 3, arbitrary: fc.integer({ min: 50, max: 2000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 2000, max: 12_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 12_000, max: 70_000 }) },
);

const fate: fc.Arbitrary<Fate> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.integer({ min: 0, max: 20 }).map((delayMs) => ({ lost: false, delayMs }) as const),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 20, max: 9000 }).map((delayMs) => ({ lost: false, delayMs }) as const),
  },
  { weight: 2, arbitrary: fc.constant({ lost: true } as const) },
);

function action(mode: Mode, processes: number, keys: number): fc.Arbitrary<Action> {
  const process = fc.integer({ min: 0, max: processes - 1 });
  const key = fc.integer({ min: 0, max: keys - 1 });
  const onKey = (kind: "write" | "warm") => fc.record({ kind: fc.constant(kind), gapMs: gap, process, key });
  const reads = fc.record({
    kind: fc.constant("read" as const),
    gapMs: gap,
    process,
    key,
    count: fc.oneof(
      { weight: 3, arbitrary: fc.constant(1) },
      { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) },
    ),
  });
  const shared =
    mode === "memory"
      ? []
      : [
          {
            weight: 1,
            arbitrary: fc.record({
              kind: fc.constant("restore" as const),
              gapMs: gap,
              snapshotAgoMs: fc.integer({ min: 0, max: 80_000 }),
              downMs: fc.integer({ min: 0, max: 5000 }),
            }),
          },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant("evict" as const), gapMs: gap, key }) },
        ];
  return fc.oneof(
    { weight: 10, arbitrary: reads },
    { weight: 4, arbitrary: onKey("write") },
    { weight: 2, arbitrary: onKey("warm") },
    ...shared,
  );
}

export const scenarios: fc.Arbitrary<Scenario> = fc
  .record({
    mode: fc.constantFrom<Mode>("redis", "redis", "memcached", "memory"),
    processes: fc.integer({ min: 2, max: 3 }),
    keys: fc.constantFrom(1, 1, 2),
  })
  .chain(({ mode, processes, keys }) => {
    const inProcess = mode === "memory" ? 1 : processes;
    return fc.record({
      mode: fc.constant(mode),
      settings,
      processes: fc.constant(inProcess),
      keys: fc.constant(keys),
      actions: fc.array(action(mode, inProcess, keys), { minLength: 2, maxLength: 40, size: "medium" }),
      latencies: fc.array(latency, { maxLength: 400, size: "medium" }),
      fates: fc.array(fate, { maxLength: 80, size: "medium" }),
    });
  });
