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
import { type CacheClock, sleepOn, systemClock } from "./cache-clock.js";
import type { InvalidationBus, Retirement } from "./invalidation-bus.js";
import { L1Cache } from "./l1-cache.js";
import type { LoadLock } from "./load-lock.js";
import { SingleFlight } from "./singleflight.js";
import type { CacheEntry, FillEntry } from "./versioned-entry.js";

/** A value as the source gave it, with the source's version of it. */
export interface Versioned {
  readonly value: string;
  readonly version: number;
}

/** Reads the source. Undefined: the source has nothing under the key (its version 0). */
export type Loader = () => Promise<Versioned | undefined>;

export interface ReadThroughOptions {
  /** Name for metrics (e.g. `catalog`). */
  readonly name: string;
  readonly metrics: Metrics;
  /** The shared level; undefined in embedded mode, where L1 is the only level. */
  readonly l2?: Cache;
  readonly invalidation: InvalidationBus;
  readonly lock: LoadLock;
  /**
   * How long L1 keeps an entry (up to 50 % more, jittered) when there is an L2, counted from the
   * start of the read that produced it. It bounds staleness when an invalidation message is lost;
   * with no L2, entries live for their full TTL (every write is local).
   */
  readonly l1TtlMs?: number;
  readonly l1MaxEntries?: number;
  /**
   * A fill is stored only if the read it carries began less than this long ago. A write's
   * retirement outlives this (`retireTtlMs`), so a fill it must beat cannot arrive after it is gone.
   */
  readonly maxFillAgeMs?: number;
  /** How long a write's retirement stays in L2. Must exceed `maxFillAgeMs`. */
  readonly retireTtlMs?: number;
  /**
   * The longest `ttlMs` any process gives this cache's entries (reads and warms, before jitter).
   * A write's floor, and the retries of its retirement, last until every older entry is past its
   * deadline: one another process filled may come back into L2 (a restore) until then, and this
   * process must still refuse it. A read or warm here asking for more raises it in this process.
   * Default 60 000 (the catalog's product TTL).
   */
  readonly longestTtlMs?: number;
  /** How often a retirement that could not be written to L2 (or published) is tried again. */
  readonly retryIntervalMs?: number;
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
  /** Time and timers (a simulation passes a virtual clock). Default: the system clock. */
  readonly clock?: CacheClock;
  /** Random numbers for TTL jitter. Default: Math.random. */
  readonly random?: () => number;
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

export type FillOptions = Pick<ReadOptions, "ttlMs" | "missingTtlMs">;

/** What a load (or an L2 read) gives the reads sharing it: the value, and when it stops being usable. */
interface Served {
  readonly value: string | undefined;
  readonly expiresAt: number;
}

const LOCK_TTL_MS = 3000;
const LOCK_POLL_MS = 20;
/** L1 TTLs get up to this fraction extra, so entries filled together do not all leave at once. */
const L1_JITTER = 0.5;
/** Every other TTL gets up to this fraction extra (cache avalanche). */
const TTL_JITTER = 0.1;

/**
 * Cache-aside reads through two levels, with the protections a flash sale needs:
 * - L1 (in-process LRU) in front of L2 (Redis / Memcached);
 * - consistency by versions: every fill carries the version its read found, and every level
 *   stores it only if it holds nothing newer — neither a newer value nor the retirement a write
 *   leaves (`invalidate`). A fill that read the source before a write therefore loses to that
 *   write whatever its timing, in L1 and L2 alike; the warm (`prime`) is a fill like any other;
 * - a write's process keeps a floor per written key, so it never hands out an older version
 *   (it reads its own write); other processes get the floor by the invalidation message, and a
 *   read never joins a load that began before the message or more than `l1TtlMs` ago;
 * - stampede protection: singleflight per key in the process, a short Redis lock across processes;
 * - degradation: L2 calls go through a circuit breaker, and database loads through a bulkhead
 *   (concurrency limit), so a dead cache makes reads slower, never wrong, and never floods the
 *   database. Retirements bypass the breaker and are retried until they land, and each one that
 *   lands is published again.
 */
export class ReadThroughCache {
  private readonly l1: L1Cache;
  private readonly flights: SingleFlight<Served>;
  private readonly clock: CacheClock;
  private readonly random: () => number;
  private readonly l1TtlMs: number;
  private readonly maxFillAgeMs: number;
  private readonly retireTtlMs: number;
  private readonly retryIntervalMs: number;
  private readonly lockWaitMs: number;
  /**
   * The longest TTL any L2 entry can have got, from any process (`longestTtlMs` with its jitter,
   * or more if this process used more): past it plus `maxFillAgeMs`, no older version is left.
   */
  private longestTtlMs: number;
  private readonly breaker;
  private readonly loads;
  private readonly metrics;
  private readonly labels;

  constructor(private readonly options: ReadThroughOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.l1 = new L1Cache({
      maxEntries: options.l1MaxEntries ?? 50_000,
      onEvict: () => this.metrics.evictions.inc({ cache: options.name }),
      now: this.clock.now,
    });
    this.flights = new SingleFlight(this.clock.now);
    this.l1TtlMs = options.l1TtlMs ?? 5000;
    this.maxFillAgeMs = options.maxFillAgeMs ?? 10_000;
    this.retireTtlMs = options.retireTtlMs ?? 60_000;
    if (!(this.retireTtlMs > this.maxFillAgeMs)) {
      throw new RangeError(
        `retireTtlMs (${this.retireTtlMs}) must exceed maxFillAgeMs (${this.maxFillAgeMs})`,
      );
    }
    this.retryIntervalMs = options.retryIntervalMs ?? 500;
    this.lockWaitMs = options.lockWaitMs ?? 300;
    // Not only the TTLs this process has used: a writer that never read (or only warmed absent
    // markers, with their short TTL) still outlasts the entries other processes filled.
    this.longestTtlMs = Math.max(this.retireTtlMs, (options.longestTtlMs ?? 60_000) * (1 + TTL_JITTER));
    this.breaker = circuitBreaker(handleAll, {
      halfOpenAfter: options.breakerOpenMs ?? 2000,
      breaker: new ConsecutiveBreaker(options.breakerFailures ?? 5),
    });
    this.loads = bulkhead(options.loadConcurrency ?? 32, options.loadQueue ?? 1000);
    const m = options.metrics;
    const cache = options.name;
    this.metrics = {
      lookups: m.counter(
        "cache_lookups_total",
        "Cache lookups by level and outcome (hit, miss, error, skipped, bypass).",
        ["cache", "level", "outcome"],
      ),
      fills: m.counter(
        "cache_fills_total",
        "Fills by outcome: stored, superseded (a newer version was there), too_old (read too long ago), error.",
        ["cache", "outcome"],
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
    // Built once: the hit path passes these instead of a new object per read.
    this.labels = {
      l1Hit: { cache, level: "l1", outcome: "hit" },
      l1Miss: { cache, level: "l1", outcome: "miss" },
      l1Bypass: { cache, level: "l1", outcome: "bypass" },
      cache: { cache },
    } as const;
    m.gauge(
      "cache_l2_breaker_open",
      "1 while the L2 circuit breaker is open (reads skip L2).",
      ["cache"],
      (g) => {
        g.set({ cache }, this.breaker.state === CircuitState.Open ? 1 : 0);
      },
    );
    options.invalidation.subscribe((retirements) => this.retireLocally(retirements));
  }

  /** The value for `key`, loading it with `load` on a miss; undefined when the source has none. */
  async get(key: string, load: Loader, options: ReadOptions): Promise<string | undefined> {
    if (this.options.enabled === false) {
      this.metrics.lookups.inc(this.labels.l1Bypass);
      return (await this.loadAndTime(load))?.value;
    }
    const local = this.l1.get(key);
    if (local !== undefined) {
      this.metrics.lookups.inc(this.labels.l1Hit);
      return local.value;
    }
    this.metrics.lookups.inc(this.labels.l1Miss);
    const begunAt = this.clock.now();
    if (options.admit && !(await this.admitted(key, options.admit))) {
      this.metrics.rejected.inc(this.labels.cache);
      return undefined;
    }
    this.longestTtlMs = Math.max(this.longestTtlMs, options.ttlMs * (1 + TTL_JITTER));
    for (let attempt = 0; ; attempt++) {
      const before = this.flights.joins;
      // A read joins only a load younger than the L1 TTL, so sharing a load is never staler than L1.
      const served = await this.flights.run(key, () => this.fromL2OrSource(key, load, options), this.l1TtlMs);
      const joined = this.flights.joins > before;
      if (joined) this.metrics.joins.inc(this.labels.cache);
      // A load this read joined may have found a value whose time ran out before this read began
      // (an old entry restored into L2, say). Any later load began after this read did.
      if (!joined || served.expiresAt > begunAt || attempt > 0) return served.value;
    }
  }

  /**
   * Fills the cache with a value read from the source at `readStartedAt` (a warm-up). It goes
   * through the same version checks as a read's fill: a write committed since makes it lose.
   * Resolves true when the value is in the cache.
   */
  async prime(
    key: string,
    loaded: Versioned | undefined,
    readStartedAt: number,
    options: FillOptions,
  ): Promise<boolean> {
    if (this.options.enabled === false) return false;
    this.longestTtlMs = Math.max(this.longestTtlMs, options.ttlMs * (1 + TTL_JITTER));
    return this.store(key, loaded, readStartedAt, readStartedAt + this.ttlOf(loaded, options));
  }

  /**
   * Call after the write to the source has committed, with the versions it committed. From then
   * on this process hands out nothing older for these keys; L2 gets a retirement each (tried again
   * until it lands), and every other process hears of it (published again whenever a retried
   * retirement lands).
   */
  async invalidate(retirements: readonly Retirement[]): Promise<void> {
    this.retireLocally(retirements);
    if (this.options.enabled === false) return;
    const { l2 } = this.options;
    const giveUpAt = this.clock.now() + this.olderVersionsLiveMs();
    const landed = l2
      ? await Promise.all(retirements.map((retirement) => this.retireInL2(l2, retirement)))
      : [];
    // Published even when L2 could not be written: the message's floors protect the other
    // processes from the old entry L2 still holds.
    const published = await this.publish(retirements);
    retirements.forEach((retirement, index) => {
      if (l2 && landed[index] === false) this.retryLater(l2, retirement, "l2", giveUpAt);
      else if (!published) this.retryLater(l2, retirement, "publish", giveUpAt);
    });
  }

  async close(): Promise<void> {
    this.l1.clear();
  }

  /** Raises the floors of these keys in this process and detaches its loads in flight from later reads. */
  private retireLocally(retirements: readonly Retirement[]): void {
    const until = this.clock.now() + this.olderVersionsLiveMs();
    for (const { key, version } of retirements) {
      this.l1.retire(key, version, until);
      this.flights.forget(key);
    }
  }

  /**
   * How long an older version can survive a write somewhere: a fill that read before it lands at
   * most `maxFillAgeMs` after its read, and lives at most the longest TTL from that read.
   */
  private olderVersionsLiveMs(): number {
    return this.maxFillAgeMs + this.longestTtlMs;
  }

  private async retireInL2(l2: Cache, { key, version }: Retirement): Promise<boolean> {
    try {
      // Not through the breaker: skipping a retirement while it is open would leave the old
      // value in L2 for its whole TTL.
      await l2.retire(key, version, this.retireTtlMs);
      return true;
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
  }

  private async publish(retirements: readonly Retirement[]): Promise<boolean> {
    try {
      await this.options.invalidation.publish(retirements);
      return true;
    } catch (error) {
      this.options.onError?.(error);
      return false;
    }
  }

  /**
   * Tries again what did not get through. A retirement that lands late is published after it
   * lands: a process may have read the old entry from L2 in the meantime (as after a restore).
   */
  private retryLater(
    l2: Cache | undefined,
    retirement: Retirement,
    pending: "l2" | "publish",
    giveUpAt: number,
  ): void {
    if (this.clock.now() >= giveUpAt) return;
    this.clock.after(this.retryIntervalMs, () => {
      void (async () => {
        if (pending === "l2" && l2 && !(await this.retireInL2(l2, retirement))) {
          this.retryLater(l2, retirement, "l2", giveUpAt);
          return;
        }
        if (!(await this.publish([retirement]))) this.retryLater(l2, retirement, "publish", giveUpAt);
      })();
    });
  }

  private async fromL2OrSource(key: string, load: Loader, options: ReadOptions): Promise<Served> {
    const startedAt = this.clock.now();
    const l2 = this.options.l2;
    if (!l2) return this.loadAndStore(key, load, options);
    const shared = this.usable(key, await this.l2Read(key, true));
    if (shared) return this.keepLocally(key, shared, startedAt);
    const token = await this.options.lock.tryAcquire(key, LOCK_TTL_MS).catch(() => "unlocked");
    try {
      if (token === undefined) {
        // Another process is loading this key: give it a moment to fill L2 instead of all loading.
        const filled = await this.waitForL2(key);
        if (filled) return this.keepLocally(key, filled, startedAt);
      }
      return await this.loadAndStore(key, load, options);
    } finally {
      if (token && token !== "unlocked") await this.options.lock.release(key, token).catch(() => {});
    }
  }

  private async loadAndStore(key: string, load: Loader, options: ReadOptions): Promise<Served> {
    const readStartedAt = this.clock.now();
    const loaded = await this.loadAndTime(load);
    const expiresAt = readStartedAt + this.ttlOf(loaded, options);
    await this.store(key, loaded, readStartedAt, expiresAt);
    return { value: loaded?.value, expiresAt };
  }

  private ttlOf(loaded: Versioned | undefined, options: FillOptions): number {
    return jitteredTtl(loaded ? options.ttlMs : options.missingTtlMs, TTL_JITTER, this.random);
  }

  /**
   * The one fill path (reads and warms): L2 first, by compare-and-set, then L1, by compare-and-set.
   * When L2 holds a newer version the fill leaves L1 alone too: what it carries is already old.
   * `expiresAt` (the TTL from `readStartedAt`) goes into the entry, so no level hands it out later.
   *
   * The age limit is checked twice: here, and by L2 where the fill lands (`landBy`). A retirement
   * lives `retireTtlMs` in L2, longer than `maxFillAgeMs`, so a fill that read before the write and
   * lands within `maxFillAgeMs` of its read always finds it there and loses. The check here alone
   * did not hold: a fill can land much later than it is sent (a request that timed out and still
   * arrives, a paused process, Memcached's compare-and-set retried), after the retirement expired,
   * and it was then stored with its old version for its whole TTL (race explorer, seed 662318084).
   */
  private async store(
    key: string,
    loaded: Versioned | undefined,
    readStartedAt: number,
    expiresAt: number,
  ): Promise<boolean> {
    const cache = this.options.name;
    const now = this.clock.now();
    const age = now - readStartedAt;
    const remaining = expiresAt - now;
    // Too old: a write's retirement it must lose to may have expired. A present value must also
    // outlive every fill that could still arrive (it may have replaced a retirement).
    if (!(age <= this.maxFillAgeMs && remaining > 0) || (loaded && remaining < this.maxFillAgeMs)) {
      this.metrics.fills.inc({ cache, outcome: "too_old" });
      return false;
    }
    const entry: FillEntry = loaded
      ? { kind: "value", version: loaded.version, expiresAt, value: loaded.value }
      : { kind: "absent", version: 0, expiresAt };
    const l2 = this.options.l2;
    let l1ExpiresAt = expiresAt;
    if (l2) {
      l1ExpiresAt = Math.min(expiresAt, readStartedAt + jitteredTtl(this.l1TtlMs, L1_JITTER, this.random));
      this.longestTtlMs = Math.max(this.longestTtlMs, expiresAt - readStartedAt);
      try {
        const landBy = readStartedAt + this.maxFillAgeMs;
        if (!(await this.breaker.execute(() => l2.fill(key, entry, remaining, landBy)))) {
          this.metrics.fills.inc({ cache, outcome: "superseded" });
          return false;
        }
      } catch (error) {
        // L2 down, or the breaker open: L1 alone, where the floors still refuse old versions.
        if (!(error instanceof BrokenCircuitError)) this.options.onError?.(error);
        this.metrics.fills.inc({ cache, outcome: "error" });
      }
    }
    const stored = this.l1.fill(key, entry.version, loaded?.value, l1ExpiresAt);
    if (stored || !l2) this.metrics.fills.inc({ cache, outcome: stored ? "stored" : "superseded" });
    return stored;
  }

  /** Copies an entry read from L2 into L1, for the L1 TTL from the read's start (never past its own time). */
  private keepLocally(key: string, entry: FillEntry, startedAt: number): Served {
    const value = entry.kind === "value" ? entry.value : undefined;
    const l1ExpiresAt = startedAt + jitteredTtl(this.l1TtlMs, L1_JITTER, this.random);
    this.l1.fill(key, entry.version, value, Math.min(entry.expiresAt, l1ExpiresAt));
    return { value, expiresAt: entry.expiresAt };
  }

  /**
   * An L2 entry this process may hand out: a value or absent marker whose time has not run out,
   * not below the key's floor.
   */
  private usable(key: string, entry: CacheEntry | undefined): FillEntry | undefined {
    if (entry === undefined || entry.kind === "retired") return undefined;
    return entry.expiresAt > this.clock.now() && entry.version >= this.l1.floor(key) ? entry : undefined;
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
  private async l2Read(key: string, count: boolean): Promise<CacheEntry | undefined> {
    const l2 = this.options.l2!;
    const cache = this.options.name;
    try {
      const entry = await this.breaker.execute(() => l2.readEntry(key));
      if (count) {
        const outcome = entry === undefined || entry.kind === "retired" ? "miss" : "hit";
        this.metrics.lookups.inc({ cache, level: "l2", outcome });
      }
      return entry;
    } catch (error) {
      const outcome = error instanceof BrokenCircuitError ? "skipped" : "error";
      this.metrics.lookups.inc({ cache, level: "l2", outcome });
      if (outcome === "error") this.options.onError?.(error);
      return undefined;
    }
  }

  private async waitForL2(key: string): Promise<FillEntry | undefined> {
    const deadline = this.clock.now() + this.lockWaitMs;
    while (this.clock.now() < deadline) {
      await sleepOn(this.clock, LOCK_POLL_MS);
      const entry = this.usable(key, await this.l2Read(key, false));
      if (entry) return entry;
    }
    return undefined;
  }

  /** Every load from the source goes through here, so `cache_load_seconds` counts them all. */
  private async loadAndTime(load: Loader): Promise<Versioned | undefined> {
    const stop = this.metrics.loads.startTimer(this.labels.cache);
    try {
      return await this.loadLimited(load);
    } finally {
      stop();
    }
  }

  private async loadLimited(load: Loader): Promise<Versioned | undefined> {
    try {
      return await this.loads.execute(load);
    } catch (error) {
      if (error instanceof BulkheadRejectedError) {
        this.metrics.shed.inc(this.labels.cache);
        throw new AppError("unavailable", "Too many reads are waiting for the database; retry shortly.", 1);
      }
      throw error;
    }
  }
}
