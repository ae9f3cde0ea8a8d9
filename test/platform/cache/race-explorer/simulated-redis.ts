import type { Cache } from "../../../../src/platform/cache/cache.js";
import type { InvalidationBus, Retirement } from "../../../../src/platform/cache/invalidation-bus.js";
import type { LoadLock } from "../../../../src/platform/cache/load-lock.js";
import { MemoryCache, type MemoryCacheSnapshot } from "../../../../src/platform/cache/memory-cache.js";
import {
  type CacheEntry,
  decideFill,
  decideRetire,
  decodeEntry,
  type FillEntry,
} from "../../../../src/platform/cache/versioned-entry.js";
import type { Tape } from "./tape.js";
import type { VirtualClock } from "./virtual-clock.js";

/** What a message does on its way to one subscriber: arrives after `delayMs`, or never. */
export type Fate = { readonly lost: true } | { readonly lost: false; readonly delayMs: number };

/** The adapters' command timeout: a call whose answer takes longer rejects, though it may still land. */
export const COMMAND_TIMEOUT_MS = 250;

/**
 * The version L2 holds for a key from `from` on (-1: nothing), and what put it there: the cache's
 * own fills and retirements, or a loss no cache code controls (a restore, an eviction).
 */
export interface HeldSpan {
  readonly from: number;
  readonly version: number;
  readonly cause: "fill" | "retire" | "loss";
}

export interface Delivery {
  readonly process: number;
  readonly retirement: Retirement;
  readonly at: number;
}

export interface RetireCall {
  readonly process: number;
  readonly retirement: Retirement;
  readonly appliedAt: number;
  readonly answered: boolean;
}

export interface PublishAttempt {
  readonly process: number;
  readonly retirements: readonly Retirement[];
  readonly at: number;
}

/**
 * One shared cache server (Redis, or Memcached without pub/sub) as the simulation sees it: the
 * real in-process adapter — so the real compare-and-set rule — behind network trips drawn from a
 * tape, a command timeout, outages, restores from snapshots and evictions. It records what the
 * bound checker needs: the version held per key over time, deliveries, retirements, publishes.
 */
export class SimulatedServer {
  readonly store: MemoryCache;
  private down = 0;
  private readonly subscribers = new Map<number, (retirements: readonly Retirement[]) => void>();
  private readonly locks = new Map<string, { token: string; until: number }>();
  private tokens = 0;
  readonly held = new Map<string, HeldSpan[]>();
  readonly deliveries: Delivery[] = [];
  readonly retireCalls: RetireCall[] = [];
  readonly publishes: PublishAttempt[] = [];

  constructor(
    readonly clock: VirtualClock,
    private readonly latencies: Tape<number>,
    private readonly fates: Tape<Fate>,
  ) {
    // lru-cache allocates its slots up front; a simulation uses a handful of keys.
    this.store = new MemoryCache({ now: clock.now, maxEntries: 64 });
  }

  get up(): boolean {
    return this.down === 0;
  }

  snapshot(): MemoryCacheSnapshot {
    return this.store.snapshot();
  }

  crash(): void {
    this.down += 1;
  }

  /** Back up with the contents of `snapshot` (an empty one: a server that kept nothing). */
  restart(snapshot: MemoryCacheSnapshot): void {
    this.down -= 1;
    if (this.down > 0) return;
    this.store.restore(snapshot);
    this.locks.clear();
    const restored = new Map(snapshot);
    for (const key of this.held.keys()) {
      const stored = restored.get(key);
      const entry = stored && decodeEntry(stored.value);
      this.hold(key, entry ? entry.version : -1, "loss");
    }
  }

  evict(key: string): void {
    void this.store.delete(key);
    this.hold(key, -1, "loss");
  }

  /** The L2 one process sees: every call is a network trip to this server. */
  cacheFor(process: number): Cache {
    return {
      get: (key) => this.call(() => this.store.get(key)),
      set: (key, value, ttlMs) => this.call(() => this.store.set(key, value, ttlMs)),
      delete: (key) =>
        this.call(async () => {
          await this.store.delete(key);
          this.hold(key, -1, "loss");
        }),
      readEntry: (key) => this.call(() => this.store.readEntry(key)),
      fill: (key, entry, ttlMs, landBy) => this.call(() => this.fill(key, entry, ttlMs, landBy)),
      retire: (key, version, ttlMs) =>
        this.call(
          () => this.retire(key, version, ttlMs),
          (appliedAt, answered) =>
            this.retireCalls.push({ process, retirement: { key, version }, appliedAt, answered }),
        ),
      close: async () => {},
    };
  }

  busFor(process: number): InvalidationBus {
    return {
      publish: async (retirements) => {
        this.publishes.push({ process, retirements, at: this.clock.now() });
        await this.call(async () => {
          for (const [other, handler] of this.subscribers) {
            if (other === process) continue;
            const fate = this.fates.take();
            if (fate.lost) continue;
            this.clock.after(fate.delayMs, () => {
              const at = this.clock.now();
              for (const retirement of retirements) this.deliveries.push({ process: other, retirement, at });
              handler(retirements);
            });
          }
        });
      },
      subscribe: (handler) => {
        this.subscribers.set(process, handler);
      },
      close: async () => {},
    };
  }

  lockFor(): LoadLock {
    return {
      tryAcquire: (key, ttlMs) =>
        this.call(async () => {
          const now = this.clock.now();
          const held = this.locks.get(key);
          if (held && held.until > now) return undefined;
          const token = String(++this.tokens);
          this.locks.set(key, { token, until: now + ttlMs });
          return token;
        }),
      release: (key, token) =>
        this.call(async () => {
          if (this.locks.get(key)?.token === token) this.locks.delete(key);
        }),
    };
  }

  /** The real adapter's fill, on the server's (virtual) clock when it lands: a late one is refused there. */
  private async fill(key: string, entry: FillEntry, ttlMs: number, landBy?: number): Promise<boolean> {
    const current = await this.store.readEntry(key);
    const stored = await this.store.fill(key, entry, ttlMs, landBy);
    if (stored && decideFill(current, entry.version) === "store") this.hold(key, entry.version, "fill");
    return stored;
  }

  private async retire(key: string, version: number, ttlMs: number): Promise<void> {
    const current: CacheEntry | undefined = await this.store.readEntry(key);
    await this.store.retire(key, version, ttlMs);
    if (decideRetire(current, version) === "store") this.hold(key, version, "retire");
  }

  private hold(key: string, version: number, cause: HeldSpan["cause"]): void {
    let spans = this.held.get(key);
    if (!spans) {
      spans = [];
      this.held.set(key, spans);
    }
    spans.push({ from: this.clock.now(), version, cause });
  }

  /**
   * A network trip: the request travels, the server applies it (or is down), the answer travels.
   * The caller gives up after COMMAND_TIMEOUT_MS, whether or not the server applied it.
   */
  private call<T>(apply: () => Promise<T>, onApplied?: (at: number, answered: boolean) => void): Promise<T> {
    const there = this.latencies.take();
    const back = this.latencies.take();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        cancelTimeout();
        outcome();
      };
      const cancelTimeout = this.clock.schedule(COMMAND_TIMEOUT_MS, () =>
        settle(() => reject(new Error("cache command timed out"))),
      );
      this.clock.after(there, () => {
        if (!this.up) return; // nobody answers; the caller times out
        const appliedAt = this.clock.now();
        void apply().then((result) => {
          const answered = there + back < COMMAND_TIMEOUT_MS;
          onApplied?.(appliedAt, answered);
          this.clock.after(back, () => settle(() => resolve(result)));
        }, reject);
      });
    });
  }
}
