interface Flight<V> {
  readonly result: Promise<V>;
  readonly startedAt: number;
}

/**
 * Collapses concurrent loads of the same key into one: while a load is in flight, later callers
 * wait for its result instead of starting their own (cache-breakdown protection inside a process).
 * A caller never joins a load older than the `maxJoinAgeMs` it gives, nor one begun before the
 * last `forget` of the key: what that load read may predate a write the caller must see.
 */
export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Flight<V>>();
  joins = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Later callers of `key` start a new load instead of joining the one in flight. */
  forget(key: string): void {
    this.inFlight.delete(key);
  }

  run(key: string, load: () => Promise<V>, maxJoinAgeMs = Number.POSITIVE_INFINITY): Promise<V> {
    const now = this.now();
    const running = this.inFlight.get(key);
    if (running && now - running.startedAt <= maxJoinAgeMs) {
      this.joins += 1;
      return running.result;
    }
    const result = load().finally(() => {
      if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    });
    const flight = { result, startedAt: now };
    this.inFlight.set(key, flight);
    return result;
  }
}
