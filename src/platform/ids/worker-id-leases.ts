import { MAX_WORKER } from "./snowflake.js";

/**
 * The port behind snowflake worker ids: 64 leases on a server every process of a deployment
 * shares, so that no two live processes mint with the same worker id. Adapters side by side:
 * PostgreSQL (`pg-worker-id-leases.ts`), Redis (`redis-worker-id-leases.ts`) and files in the data
 * dir (`file-worker-id-leases.ts`); `worker-id-lease.ts` holds one lease and renews it.
 *
 * Times are durations the store measures with its own clock (a lease expires `ttlMs` after the
 * store granted or renewed it), so the processes' clocks never need to agree for the leases to
 * be exclusive. What the leases also carry is a timestamp bound, `mintedUntilMs`: "no id minted
 * under this worker id so far carries a timestamp after this". A new holder continues after it, so
 * a host whose clock is behind the previous holder's does not repeat its ids.
 */
export interface WorkerIdLeases {
  /** Where the leases live, for messages and logs (never a password): `PostgreSQL shard-0`. */
  readonly where: string;

  /**
   * Takes a worker id nobody holds (never leased, released, or expired), lowest first, for
   * `ttlMs`; undefined when every id is held. Concurrent calls never get the same id.
   */
  acquire(holder: string, ttlMs: number): Promise<AcquiredWorkerId | undefined>;

  /**
   * Extends the lease by `ttlMs` and records `mintedUntilMs`, only if `holder` still holds it.
   * False when it does not (it expired and another process took it, or it was released): the
   * caller must stop minting with that id. An answer of true means no one else held the id in
   * between.
   */
  renew(workerId: number, holder: string, ttlMs: number, mintedUntilMs: number): Promise<boolean>;

  /** Records `mintedUntilMs` and frees the id, only if `holder` still holds it. */
  release(workerId: number, holder: string, mintedUntilMs: number): Promise<void>;

  /** Closes the adapter's own connection, if it has one. */
  close(): Promise<void>;
}

export interface AcquiredWorkerId {
  readonly workerId: number;
  /** The bound the id's previous holders recorded; undefined when none did. */
  readonly previousMintedUntilMs: number | undefined;
}

/** Snowflakes have 6 worker bits: ids 0..63. */
export const WORKER_ID_COUNT = MAX_WORKER + 1;
