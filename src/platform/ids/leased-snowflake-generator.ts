import { SnowflakeGenerator } from "./snowflake.js";
import { type WorkerIdGrant, WorkerIdLease, type WorkerIdLeaseOptions } from "./worker-id-lease.js";
import type { WorkerIdLeases } from "./worker-id-leases.js";

export interface LeasedSnowflakeOptions extends Omit<WorkerIdLeaseOptions, "newestMintedMs"> {
  /** The generator's clock; tests pass their own. */
  readonly now?: () => number;
}

/**
 * A snowflake generator whose worker id is leased from a store every process shares. Each id is
 * minted only while the lease is trusted; otherwise `next` throws `WorkerIdLeaseLostError` (a 503
 * with Retry-After to an HTTP client). When the lease moves to another worker id (the old one was
 * lost), ids keep increasing: the generator's own clock carries over.
 */
export class LeasedSnowflakeGenerator extends SnowflakeGenerator {
  /** The grant the last id was minted under; a new one may bring a timestamp bound to honour. */
  private currentGrant: WorkerIdGrant | undefined;
  private lease: WorkerIdLease | undefined;

  /** Leases the lowest free worker id from `store`; throws `NoFreeWorkerIdError` when none is free. */
  static async open(
    store: WorkerIdLeases,
    options: LeasedSnowflakeOptions = {},
  ): Promise<LeasedSnowflakeGenerator> {
    const generator = new LeasedSnowflakeGenerator(options.now);
    generator.lease = await WorkerIdLease.acquire(store, {
      ...options,
      newestMintedMs: () => generator.newestTimestampMs,
    });
    return generator;
  }

  private constructor(now: (() => number) | undefined) {
    // The worker id given to the base class is never used: workerForNextId below decides.
    super(0, now);
  }

  /** The worker id held now (for logs and tests); undefined while none is. */
  get workerId(): number | undefined {
    return this.lease?.workerId;
  }

  /** Frees the worker id; the generator mints nothing afterwards. */
  async close(): Promise<void> {
    await this.lease?.release();
  }

  protected override workerForNextId(): number {
    if (!this.lease) throw new Error("LeasedSnowflakeGenerator used before its lease was taken");
    const grant = this.lease.grantForMinting();
    if (grant !== this.currentGrant) {
      this.currentGrant = grant;
      if (grant.previousMintedUntilMs !== undefined) this.continueAfter(grant.previousMintedUntilMs);
    }
    return grant.workerId;
  }
}
