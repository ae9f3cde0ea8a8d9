/**
 * Sleeps that can be cut short all at once: a consumer group waiting before its next poll wakes
 * when it closes or its connection changes, instead of finishing a timer that no longer matters.
 */
export class WakeableSleep {
  private readonly sleepers = new Set<() => void>();

  /** Resolves after `timeoutMs`, or earlier on `wakeAll`. */
  sleep(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.sleepers.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }
}
