/**
 * Collapses concurrent loads of the same key into one: while a load is in flight, later callers
 * wait for its result instead of starting their own (cache-breakdown protection inside a process).
 */
export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Promise<V>>();
  joins = 0;

  /** Later callers of `key` start a new load instead of joining the one in flight. */
  forget(key: string): void {
    this.inFlight.delete(key);
  }

  run(key: string, load: () => Promise<V>): Promise<V> {
    const running = this.inFlight.get(key);
    if (running) {
      this.joins += 1;
      return running;
    }
    const started = load().finally(() => {
      if (this.inFlight.get(key) === started) this.inFlight.delete(key);
    });
    this.inFlight.set(key, started);
    return started;
  }
}
