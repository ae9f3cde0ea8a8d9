import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
} from "cockatiel";
import { AppError } from "../errors/catalogue.js";
import type { Metrics } from "../observability/metrics.js";
import { type Cache, jitteredTtl } from "./cache.js";
import type { InvalidationBus } from "./invalidation-bus.js";
import type { LoadLock } from "./load-lock.js";
import { MemoryCache } from "./memory-cache.js";
import { SingleFlight } from "./singleflight.js";

export interface ReadThroughOptions {
  /** Name for metrics (e.g. `catalog`). */
  readonly name: string;
  readonly metrics: Metrics;
  /** The shared level; undefined in embedded mode, where L1 is the only level. */
  readonly l2?: Cache;
  readonly invalidation: InvalidationBus;
  readonly lock: LoadLock;
  /**
   * How long L1 keeps an entry when there is an L2. It bounds staleness if an invalidation message
   * is lost; with no L2, entries live for their full TTL (every write is local).
   */
  readonly l1TtlMs?: number;
  readonly l1MaxEntries?: number;
  /** The second delete after a write; loads slower than this are not cached (see invalidate). */
  readonly doubleDeleteDelayMs?: number;
  /** Database loads running at once; more wait in a queue (bounded), then fail. */
  readonly loadConcurrency?: number;
  readonly loadQueue?: number;
  /** How long a process that lost the load lock waits for the winner's value before loading itself. */
  readonly lockWaitMs?: number;
  /** Consecutive L2 failures that open the breaker, and how long it stays open. */
  readonly breakerFailures?: number;
  readonly breakerOpenMs?: number;
  readonly onError?: (error: unknown) => void;
  /** False turns caching off: every read goes to the source (a baseline for benchmarks). */
  readonly enabled?: boolean;
}

export interface ReadOptions {
  readonly ttlMs: number;
  /** TTL of the "absent" marker when the loader finds nothing (negative caching). */
  readonly missingTtlMs: number;
  /**
   * Asked on an L1 miss before L2 and the source: false means the key cannot exist (a Bloom
   * filter said so), and the read answers "absent" without touching either.
   */
  readonly admit?: (key: string) => Promise<boolean>;
}

const MISSING = "\u0000missing";
const LOCK_TTL_MS = 3000;
const L2_DELETE_RETRY_MS = 500;
/** Entries live at most their TTL (60 s for products) plus jitter: past that a delete is moot. */
const L2_DELETE_RETRY_FOR_MS = 70_000;

/**
 * Cache-aside reads through two levels, with the protections a flash sale needs:
 * - L1 (in-process LRU) in front of L2 (Redis / Memcached), L1 dropped everywhere on a write via
 *   the invalidation bus;
 * - consistency by delete-after-commit plus a delayed second delete, and loads slower than that
 *   delay are not written back (so a load that read the old row before the commit cannot outlive
 *   the second delete); the writing process bypasses the cache for that key until then, so it
 *   reads its own write;
 * - stampede protection: singleflight per key in the process, a short Redis lock across processes;
 * - degradation: L2 calls go through a circuit breaker, and database loads through a bulkhead
 *   (concurrency limit), so a dead cache makes reads slower, never wrong, and never floods the
 *   database.
 */
export class ReadThroughCache {
  private readonly l1: MemoryCache;
  private readonly flights = new SingleFlight<string>();
  /** Loads for keys this process just wrote; separate so none joins a load begun before the write. */
  private readonly freshFlights = new SingleFlight<string>();
  private readonly recentlyWritten = new Map<string, number>();
  private readonly l1TtlMs: number;
  private readonly doubleDeleteDelayMs: number;
  private readonly lockWaitMs: number;
  private readonly breaker;
  private readonly loads;
  private readonly metrics;

  constructor(private readonly options: ReadThroughOptions) {
    this.l1 = new MemoryCache({
      maxEntries: options.l1MaxEntries ?? 50_000,
      onEvict: () => this.metrics.evictions.inc({ cache: options.name }),
    });
    this.l1TtlMs = options.l1TtlMs ?? 5000;
    this.doubleDeleteDelayMs = options.doubleDeleteDelayMs ?? 500;
    this.lockWaitMs = options.lockWaitMs ?? 300;
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: options.breakerOpenMs ?? 2000,
      breaker: new ConsecutiveBreaker(options.breakerFailures ?? 5),
    });
    this.loads = bulkhead(options.loadConcurrency ?? 32, options.loadQueue ?? 1000);
    const m = options.metrics;
    const labels = ["cache", "level", "outcome"] as const;
    this.metrics = {
      lookups: m.counter(
        "cache_lookups_total",
        "Cache lookups by level and outcome (hit, miss, error, bypass).",
        labels,
      ),
      joins: m.counter("cache_singleflight_joins_total", "Lookups that waited for a load already running.", [
        "cache",
      ]),
      loads: m.histogram("cache_load_seconds", "Time to load a missing value from its source.", ["cache"]),
      evictions: m.counter("cache_l1_evictions_total", "Entries the in-process level evicted for space.", [
        "cache",
      ]),
      rejected: m.counter(
        "cache_filter_rejections_total",
        "Reads refused by the Bloom filter (key cannot exist).",
        ["cache"],
      ),
      shed: m.counter("cache_loads_shed_total", "Loads refused because too many were queued.", ["cache"]),
    };
    m.gauge(
      "cache_l2_breaker_open",
      "1 while the L2 circuit breaker is open (reads skip L2).",
      ["cache"],
      (g) => {
        g.set({ cache: options.name }, this.breaker.state === CircuitState.Open ? 1 : 0);
      },
    );
    options.invalidation.subscribe((keys) => {
      for (const key of keys) void this.l1.delete(key);
    });
  }

  /** The value for `key`, loading it with `load` on a miss; undefined when the source has none. */
  async get(
    key: string,
    load: () => Promise<string | undefined>,
    options: ReadOptions,
  ): Promise<string | undefined> {
    const name = this.options.name;
    if (this.options.enabled === false) {
      this.metrics.lookups.inc({ cache: name, level: "l1", outcome: "bypass" });
      const value = await this.loadAndTime(load);
      return value === MISSING ? undefined : value;
    }
    const writtenUntil = this.recentlyWritten.get(key);
    if (writtenUntil !== undefined) {
      if (writtenUntil > Date.now()) {
        this.metrics.lookups.inc({ cache: name, level: "l1", outcome: "bypass" });
        // Collapsed too, but only with loads started after the write (invalidate clears these).
        const value = await this.freshFlights.run(key, () => this.loadAndTime(load));
        return value === MISSING ? undefined : value;
      }
      this.recentlyWritten.delete(key);
    }
    const local = await this.l1.get(key);
    if (local !== undefined) {
      this.metrics.lookups.inc({ cache: name, level: "l1", outcome: "hit" });
      return local === MISSING ? undefined : local;
    }
    this.metrics.lookups.inc({ cache: name, level: "l1", outcome: "miss" });
    if (options.admit && !(await this.admitted(key, options.admit))) {
      this.metrics.rejected.inc({ cache: name });
      return undefined;
    }
    const before = this.flights.joins;
    const value = await this.flights.run(key, () => this.fromL2OrSource(key, load, options));
    if (this.flights.joins > before) this.metrics.joins.inc({ cache: name });
    return value === MISSING ? undefined : value;
  }

  /**
   * Call after the write to the source has committed. Drops the keys from this process's L1 at
   * once, from L2 and every other process's L1 now and again after `doubleDeleteDelayMs`.
   */
  async invalidate(keys: readonly string[]): Promise<void> {
    const until = Date.now() + this.doubleDeleteDelayMs;
    for (const key of keys) {
      this.recentlyWritten.set(key, until);
      this.freshFlights.forget(key);
      await this.l1.delete(key);
    }
    await this.dropEverywhere(keys);
    setTimeout(() => void this.dropEverywhere(keys), this.doubleDeleteDelayMs).unref();
  }

  async close(): Promise<void> {
    await this.l1.close();
  }

  private async dropEverywhere(keys: readonly string[]): Promise<void> {
    for (const key of keys) await this.l1.delete(key);
    const { l2, invalidation, onError } = this.options;
    // Deletes do not go through the breaker: skipping one while the breaker is open would leave a
    // stale value in L2 for its whole TTL. A failed delete is retried until it lands or the TTL
    // would have removed the value anyway.
    if (l2)
      await Promise.all(keys.map((key) => this.deleteFromL2(l2, key, Date.now() + L2_DELETE_RETRY_FOR_MS)));
    await invalidation.publish(keys).catch((error: unknown) => onError?.(error));
  }

  private async deleteFromL2(l2: Cache, key: string, giveUpAt: number): Promise<void> {
    try {
      await l2.delete(key);
    } catch (error) {
      this.options.onError?.(error);
      if (Date.now() < giveUpAt) {
        setTimeout(() => void this.deleteFromL2(l2, key, giveUpAt), L2_DELETE_RETRY_MS).unref();
      }
    }
  }

  private async fromL2OrSource(
    key: string,
    load: () => Promise<string | undefined>,
    options: ReadOptions,
  ): Promise<string> {
    const l2 = this.options.l2;
    if (!l2) {
      const started = Date.now();
      const value = await this.loadAndTime(load);
      // As below: a slow load may have read the row before a write it raced with.
      if (Date.now() - started <= this.doubleDeleteDelayMs) {
        await this.l1.set(key, value, jitteredTtl(value === MISSING ? options.missingTtlMs : options.ttlMs));
      }
      return value;
    }
    const shared = await this.l2Get(key, true);
    if (shared !== undefined) {
      // Jittered like every TTL: entries filled together (a warm-up) must not all leave L1 at once.
      await this.l1.set(key, shared, jitteredTtl(this.l1TtlMs, 0.5));
      return shared;
    }
    const token = await this.options.lock.tryAcquire(key, LOCK_TTL_MS).catch(() => "unlocked");
    try {
      if (token === undefined) {
        // Another process is loading this key: give it a moment to fill L2 instead of all loading.
        const filled = await this.waitForL2(key);
        if (filled !== undefined) {
          await this.l1.set(key, filled, jitteredTtl(this.l1TtlMs, 0.5));
          return filled;
        }
      }
      const started = Date.now();
      const value = await this.loadAndTime(load);
      const ttl = jitteredTtl(value === MISSING ? options.missingTtlMs : options.ttlMs);
      // A load slower than the second delete may have read the row before a write it raced with;
      // caching it could outlive both deletes, so it is returned but not stored.
      if (Date.now() - started <= this.doubleDeleteDelayMs) {
        await this.breaker.execute(() => l2.set(key, value, ttl)).catch(() => {});
        await this.l1.set(key, value, Math.min(ttl, jitteredTtl(this.l1TtlMs, 0.5)));
      }
      return value;
    } finally {
      if (token && token !== "unlocked") await this.options.lock.release(key, token).catch(() => {});
    }
  }

  /** A filter that cannot answer (its server is down) admits: slower, never a wrong "absent". */
  private async admitted(key: string, admit: (key: string) => Promise<boolean>): Promise<boolean> {
    try {
      return await admit(key);
    } catch (error) {
      this.options.onError?.(error);
      return true;
    }
  }

  /** An L2 read that never throws: an error or an open breaker reads as a miss. */
  private async l2Get(key: string, count: boolean): Promise<string | undefined> {
    const l2 = this.options.l2!;
    const cache = this.options.name;
    try {
      const value = await this.breaker.execute(() => l2.get(key));
      if (count)
        this.metrics.lookups.inc({ cache, level: "l2", outcome: value === undefined ? "miss" : "hit" });
      return value;
    } catch (error) {
      const outcome = error instanceof BrokenCircuitError ? "skipped" : "error";
      this.metrics.lookups.inc({ cache, level: "l2", outcome });
      if (outcome === "error") this.options.onError?.(error);
      return undefined;
    }
  }

  private async waitForL2(key: string): Promise<string | undefined> {
    const deadline = Date.now() + this.lockWaitMs;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const value = await this.l2Get(key, false);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** Every load from the source goes through here, so `cache_load_seconds` counts them all. */
  private async loadAndTime(load: () => Promise<string | undefined>): Promise<string> {
    const stop = this.metrics.loads.startTimer({ cache: this.options.name });
    try {
      return (await this.loadLimited(load)) ?? MISSING;
    } finally {
      stop();
    }
  }

  private async loadLimited(load: () => Promise<string | undefined>): Promise<string | undefined> {
    try {
      return await this.loads.execute(load);
    } catch (error) {
      if (error instanceof BulkheadRejectedError) {
        this.metrics.shed.inc({ cache: this.options.name });
        throw new AppError("unavailable", "Too many reads are waiting for the database; retry shortly.", 1);
      }
      throw error;
    }
  }
}
