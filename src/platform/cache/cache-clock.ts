/**
 * The time the cache reads and the timers it sets, behind one small interface so a simulation
 * (test/platform/cache/race-explorer.test.ts) can run the real cache code on a virtual clock.
 */
export interface CacheClock {
  /** Milliseconds, on a clock shared by every process of the deployment (wall clock). */
  now(): number;
  /** Calls `callback` after `ms`. The timer never keeps the process alive. */
  after(ms: number, callback: () => void): void;
}

export const systemClock: CacheClock = {
  now: Date.now,
  after(ms, callback) {
    setTimeout(callback, ms).unref();
  },
};

/** Resolves after `ms` on `clock`. */
export function sleepOn(clock: CacheClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}
