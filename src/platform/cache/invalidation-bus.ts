/**
 * Tells every process that cache keys changed, so each drops them from its in-process level (L1).
 * Delivery is best effort (Redis pub/sub); a lost message is bounded by the L1 TTL.
 */
export interface InvalidationBus {
  publish(keys: readonly string[]): Promise<void>;
  subscribe(handler: (keys: readonly string[]) => void): void;
  close(): Promise<void>;
}

/** One process, nobody else to tell: local invalidation is done by the cache itself. */
export class LocalInvalidationBus implements InvalidationBus {
  async publish(): Promise<void> {}
  subscribe(): void {}
  async close(): Promise<void> {}
}
