import type { Delivery } from "../../platform/queue/stream.js";

/**
 * The messages an order worker holds: taken from the queue and neither acked nor given back yet.
 * While any are held they are touched every `touchIntervalMs` (`Delivery.touch`), so however long
 * a store takes or an outage lasts the group does not redeliver them: a redelivery would count a
 * delivery attempt, and enough of those dead-letter an accepted order.
 */
export class HeldDeliveries<T extends { readonly delivery: Delivery }> {
  private readonly held = new Set<T>();
  private timer: NodeJS.Timeout | undefined;
  /** One round of touches at a time: a slow broker must not pile them up. */
  private touching = false;

  constructor(
    private readonly touchIntervalMs: number,
    /** Told when touches fail (the broker unreachable): those messages may come back meanwhile. */
    private readonly onTouchFailed: (error: unknown, failed: number) => void,
  ) {
    if (!(touchIntervalMs > 0))
      throw new RangeError(`touchIntervalMs must be positive, got ${touchIntervalMs}`);
  }

  get size(): number {
    return this.held.size;
  }

  /** What is held, in the order it was taken. */
  list(): T[] {
    return [...this.held];
  }

  add(items: readonly T[]): void {
    for (const item of items) this.held.add(item);
    if (this.held.size > 0 && this.timer === undefined) {
      this.timer = setInterval(() => void this.touchAll(), this.touchIntervalMs);
      // The worker's own loop keeps the process alive while it runs; this timer must not.
      this.timer.unref();
    }
  }

  /** No longer held: acked or given back. */
  remove(item: T): void {
    this.held.delete(item);
    if (this.held.size === 0) this.stopTouching();
  }

  /**
   * Lets go of everything without an answer (the worker is stopping): each message comes back
   * once its visibility timeout runs out, or sooner where closing the group hands it back.
   */
  releaseAll(): void {
    this.held.clear();
    this.stopTouching();
  }

  private stopTouching(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async touchAll(): Promise<void> {
    if (this.touching) return;
    this.touching = true;
    try {
      const results = await Promise.allSettled(this.list().map((item) => item.delivery.touch()));
      const failures = results.filter((result) => result.status === "rejected");
      if (failures.length > 0) this.onTouchFailed(failures[0]!.reason, failures.length);
    } finally {
      this.touching = false;
    }
  }
}
