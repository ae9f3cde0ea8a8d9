import { Registry } from "prom-client";
import {
  type InvalidationBus,
  LocalInvalidationBus,
} from "../../../../src/platform/cache/invalidation-bus.js";
import { LocalLoadLock } from "../../../../src/platform/cache/load-lock.js";
import type { MemoryCacheSnapshot } from "../../../../src/platform/cache/memory-cache.js";
import { ReadThroughCache, type Versioned } from "../../../../src/platform/cache/read-through-cache.js";
import { Metrics } from "../../../../src/platform/observability/metrics.js";
import type { Scenario } from "./scenario.js";
import { SimulatedServer } from "./simulated-redis.js";
import { Tape } from "./tape.js";
import { VirtualClock } from "./virtual-clock.js";

export interface WriteRecord {
  readonly process: number;
  readonly key: string;
  readonly version: number;
  readonly committedAt: number;
  ackedAt: number | undefined;
}

export interface ReadRecord {
  readonly process: number;
  readonly key: string;
  readonly begunAt: number;
  /** 0: the read answered "no such thing". */
  version: number | undefined;
  endedAt: number | undefined;
  error: unknown;
}

export interface Outcome {
  readonly scenario: Scenario;
  readonly server: SimulatedServer | undefined;
  readonly writes: readonly WriteRecord[];
  readonly reads: readonly ReadRecord[];
  readonly clock: VirtualClock;
}

/** Runs a scenario against real ReadThroughCache instances, one per simulated process. */
export async function runScenario(scenario: Scenario, seed: number): Promise<Outcome> {
  const clock = new VirtualClock();
  const latencies = new Tape(scenario.latencies, 1);
  const server =
    scenario.mode === "memory"
      ? undefined
      : new SimulatedServer(clock, latencies, new Tape(scenario.fates, { lost: false, delayMs: 1 }));
  const random = seededRandom(seed);
  const committed = new Map<string, number>();
  const writes: WriteRecord[] = [];
  const reads: ReadRecord[] = [];
  const keyName = (key: number) => `product:{${key}}`;

  const settings = scenario.settings;
  const caches = Array.from({ length: scenario.processes }, (_, process) => {
    const invalidation: InvalidationBus =
      scenario.mode === "redis" && server ? server.busFor(process) : new LocalInvalidationBus();
    return new ReadThroughCache({
      name: "explorer",
      metrics: quietMetrics(),
      invalidation,
      lock: scenario.mode === "redis" && server ? server.lockFor() : new LocalLoadLock(),
      ...(server ? { l2: server.cacheFor(process) } : {}),
      l1TtlMs: settings.l1TtlMs,
      // lru-cache allocates its slots up front; a simulation uses a handful of keys.
      l1MaxEntries: 64,
      maxFillAgeMs: settings.maxFillAgeMs,
      retireTtlMs: settings.retireTtlMs,
      // Every process reads with the same TTLs, as the catalog's do: the tightest honest setting.
      longestTtlMs: settings.ttlMs,
      retryIntervalMs: settings.retryIntervalMs,
      lockWaitMs: settings.lockWaitMs,
      // The breaker's half-open timer runs on the system clock, which a replay cannot repeat; an
      // open breaker only skips L2 reads and fills, which is always safe. Degradation tests cover it.
      breakerFailures: Number.MAX_SAFE_INTEGER,
      clock,
      random,
    });
  });

  /** The source: each key's committed version; a read sees what is committed when it reaches it. */
  const sourceRow = (key: string): Versioned | undefined => {
    const version = committed.get(key) ?? 0;
    return version === 0 ? undefined : { value: `v${version}`, version };
  };
  const loader = (key: string) => async () => {
    await clock.sleep(latencies.take());
    const row = sourceRow(key);
    await clock.sleep(latencies.take());
    return row;
  };

  let at = 0;
  for (const action of scenario.actions) {
    at += action.gapMs;
    switch (action.kind) {
      case "read": {
        const key = keyName(action.key);
        const cache = caches[action.process]!;
        clock.after(at, () => {
          for (let n = 0; n < action.count; n++) {
            const record: ReadRecord = {
              process: action.process,
              key,
              begunAt: clock.now(),
              version: undefined,
              endedAt: undefined,
              error: undefined,
            };
            reads.push(record);
            cache.get(key, loader(key), settings).then(
              (value) => {
                record.version = value === undefined ? 0 : Number(value.slice(1));
                record.endedAt = clock.now();
              },
              (error: unknown) => {
                record.error = error;
              },
            );
          }
        });
        break;
      }
      case "write": {
        const key = keyName(action.key);
        const cache = caches[action.process]!;
        clock.after(at, () => {
          void (async () => {
            await clock.sleep(latencies.take()); // the UPDATE's trip to the database
            const version = (committed.get(key) ?? 0) + 1;
            committed.set(key, version);
            const record: WriteRecord = {
              process: action.process,
              key,
              version,
              committedAt: clock.now(),
              ackedAt: undefined,
            };
            writes.push(record);
            await cache.invalidate([{ key, version }]);
            record.ackedAt = clock.now();
          })();
        });
        break;
      }
      case "warm": {
        const key = keyName(action.key);
        const cache = caches[action.process]!;
        clock.after(at, () => {
          void (async () => {
            const readAt = clock.now();
            const row = sourceRow(key); // the warm's SELECT
            await clock.sleep(latencies.take());
            await cache.prime(key, row, readAt, settings);
          })();
        });
        break;
      }
      case "restore": {
        if (!server) break;
        const { snapshotAgoMs, downMs } = action;
        let snapshot: MemoryCacheSnapshot = []; // Memcached comes back empty
        if (scenario.mode === "redis") {
          clock.after(Math.max(0, at - snapshotAgoMs), () => {
            snapshot = server.snapshot();
          });
        }
        clock.after(at, () => {
          server.crash();
          clock.after(downMs, () => server.restart(snapshot));
        });
        break;
      }
      case "evict": {
        if (!server) break;
        const key = keyName(action.key);
        clock.after(at, () => server.evict(key));
        break;
      }
    }
  }
  await clock.run();
  await Promise.all(caches.map((cache) => cache.close()));
  return { scenario, server, writes, reads, clock };
}

/** Metrics without the process-wide collectors: a run builds a few, and thousands of runs are made. */
function quietMetrics(): Metrics {
  const metrics = Object.create(Metrics.prototype) as Metrics & { registry: Registry };
  (metrics as { registry: Registry }).registry = new Registry();
  return metrics;
}

/** mulberry32: TTL jitter from the run's seed, so a replay jitters the same way. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
