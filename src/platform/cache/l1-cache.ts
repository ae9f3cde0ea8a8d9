import { LRUCache } from "lru-cache";

/** One entry of the in-process level. `value` undefined: the source has nothing (negative caching). */
export interface L1Entry {
  readonly version: number;
  readonly value: string | undefined;
  readonly expiresAt: number;
}

interface Floor {
  readonly version: number;
  readonly until: number;
}

export interface L1CacheOptions {
  readonly maxEntries: number;
  readonly onEvict?: () => void;
  readonly now: () => number;
}

/** Floors are swept of expired ones when their number doubles since the last sweep. */
const MIN_SWEEP_SIZE = 1024;

/**
 * The in-process level (L1): an LRU of versioned entries, plus a floor per recently written key —
 * "versions below this are gone" — kept apart from the LRU so that filling it for space can never
 * evict one. Fills are compare-and-sets against both (versioned-entry.ts has the rule), so a fill
 * of a version older than a write this process heard of is refused, whenever it arrives.
 *
 * Synchronous on purpose: a hit is one LRU lookup and one clock read, with no allocation and no
 * await.
 */
export class L1Cache {
  private readonly entries: LRUCache<string, L1Entry>;
  private readonly floors = new Map<string, Floor>();
  private sweepAt = MIN_SWEEP_SIZE;
  private readonly now: () => number;

  constructor(options: L1CacheOptions) {
    this.now = options.now;
    const onEvict = options.onEvict;
    this.entries = new LRUCache<string, L1Entry>({
      max: options.maxEntries,
      ...(onEvict
        ? { dispose: (_value: L1Entry, _key: string, reason: string) => reason === "evict" && onEvict() }
        : {}),
    });
  }

  /** The live entry for `key`, if any. */
  get(key: string): L1Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt > this.now()) return entry;
    this.entries.delete(key);
    return undefined;
  }

  /** The lowest version this process may still hand out for `key` (0: no write heard of). */
  floor(key: string): number {
    const floor = this.floors.get(key);
    if (floor === undefined) return 0;
    if (floor.until > this.now()) return floor.version;
    this.floors.delete(key);
    return 0;
  }

  /** Stores the entry unless the key's floor or live entry is a higher version. True when stored or already there. */
  fill(key: string, version: number, value: string | undefined, expiresAt: number): boolean {
    if (version < this.floor(key)) return false;
    const current = this.entries.peek(key);
    if (current !== undefined && current.expiresAt > this.now() && current.version >= version) {
      return current.version === version;
    }
    this.entries.set(key, { version, value, expiresAt });
    return true;
  }

  /** Raises the key's floor to `version` until `until`, and drops a live entry below it. */
  retire(key: string, version: number, until: number): void {
    const floor = this.floors.get(key);
    if (
      floor === undefined ||
      floor.version < version ||
      (floor.version === version && floor.until < until)
    ) {
      this.floors.set(key, { version: Math.max(version, floor?.version ?? 0), until });
    }
    const current = this.entries.peek(key);
    if (current !== undefined && current.version < version) this.entries.delete(key);
    if (this.floors.size >= this.sweepAt) this.sweepFloors();
  }

  clear(): void {
    this.entries.clear();
    this.floors.clear();
  }

  private sweepFloors(): void {
    const now = this.now();
    for (const [key, floor] of this.floors) if (floor.until <= now) this.floors.delete(key);
    this.sweepAt = Math.max(MIN_SWEEP_SIZE, 2 * this.floors.size);
  }
}
