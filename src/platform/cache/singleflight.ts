/**
 * Collapses concurrent loads of the same key into one: while a load is in flight, later callers
 * wait for its result instead of starting their own (cache-breakdown protection inside a process).
 */
export class SingleFlight<V> {
  private readonly inFlight = new Map<string, Promise<V>>();
  joins = 0;

  run(key: string, load: () => Promise<V>): Promise<V> {
    const running = this.inFlight.get(key);
    if (running) {
      this.joins += 1;
      return running;
    }
    const started = load().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }
}
