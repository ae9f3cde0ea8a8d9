import type { CacheClock } from "../../../../src/platform/cache/cache-clock.js";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only from timer to timer. `run` fires the timers in time order (ties in the
 * order they were set) and lets every promise chain settle before the next one, so a simulation
 * of network trips and slow loads is deterministic: same inputs, same interleaving, every time.
 */
export class VirtualClock implements CacheClock {
  private time = 0;
  private seq = 0;
  private readonly timers: Timer[] = [];

  readonly now = (): number => this.time;

  after(ms: number, callback: () => void): void {
    this.schedule(ms, callback);
  }

  /** Like `after`; the returned function cancels the timer (a cancelled timer costs nothing). */
  schedule(ms: number, callback: () => void): () => void {
    const timer: Timer = {
      at: this.time + Math.max(0, ms),
      seq: this.seq++,
      run: callback,
      cancelled: false,
    };
    // Kept sorted; a simulation holds a few dozen timers at a time.
    let index = this.timers.length;
    while (index > 0 && later(this.timers[index - 1]!, timer)) index--;
    this.timers.splice(index, 0, timer);
    return () => {
      timer.cancelled = true;
    };
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** Fires the timers due within `ms`, in order, then moves the clock to the end of it. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      await settle();
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      if (next.cancelled) continue;
      this.time = Math.max(this.time, next.at);
      next.run();
    }
    this.time = until;
    await settle();
  }

  /** Fires timers until none is left (or `maxTimers` fired: a runaway simulation fails loudly). */
  async run(maxTimers = 100_000): Promise<void> {
    for (let fired = 0; ; fired++) {
      await settle();
      let next = this.timers.shift();
      while (next?.cancelled) next = this.timers.shift();
      if (!next) return;
      if (fired >= maxTimers) throw new Error(`the simulation did not end after ${maxTimers} timers`);
      this.time = Math.max(this.time, next.at);
      next.run();
    }
  }
}

function later(a: Timer, b: Timer): boolean {
  return a.at > b.at || (a.at === b.at && a.seq > b.seq);
}

/** Every microtask queued so far, and every one those queue, runs before a macrotask. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
