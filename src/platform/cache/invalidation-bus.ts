/** A write's news for one cache key: versions below `version` are gone. */
export interface Retirement {
  readonly key: string;
  readonly version: number;
}

/**
 * Tells every process that cache keys changed, so each drops them from its in-process level (L1)
 * and refuses older versions of them for a while. Delivery is best effort (Redis pub/sub): a lost
 * or late message is bounded by the L1 TTL.
 */
export interface InvalidationBus {
  publish(retirements: readonly Retirement[]): Promise<void>;
  subscribe(handler: (retirements: readonly Retirement[]) => void): void;
  close(): Promise<void>;
}

/** One process, nobody else to tell: local invalidation is done by the cache itself. */
export class LocalInvalidationBus implements InvalidationBus {
  async publish(): Promise<void> {}
  subscribe(): void {}
  async close(): Promise<void> {}
}

/** The message form of retirements: `[[key, version], …]`. */
export function encodeRetirements(retirements: readonly Retirement[]): string {
  return JSON.stringify(retirements.map((retirement) => [retirement.key, retirement.version]));
}

/** The retirements in a message; malformed ones (another release, garbage) are left out. */
export function decodeRetirements(message: string): Retirement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const retirements: Retirement[] = [];
  for (const item of parsed) {
    if (!Array.isArray(item) || item.length !== 2) continue;
    const [key, version] = item as unknown[];
    if (typeof key === "string" && Number.isSafeInteger(version) && (version as number) >= 0) {
      retirements.push({ key, version: version as number });
    }
  }
  return retirements;
}
