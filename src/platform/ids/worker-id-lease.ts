import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { NoFreeWorkerIdError, WorkerIdLeaseLostError } from "./worker-id-errors.js";
import { WORKER_ID_COUNT, type WorkerIdLeases } from "./worker-id-leases.js";

export interface WorkerIdLeaseTimings {
  /** How long the store keeps a lease nobody renews: how soon a crashed process's id is free again. */
  readonly ttlMs: number;
  /** How often the holder renews. Several renewals fit in `trustForMs`, so one failure is harmless. */
  readonly renewEveryMs: number;
  /**
   * How long after sending a renewal that succeeded the holder keeps minting. Shorter than
   * `ttlMs` (the store's expiry counts from when the renewal arrived, later still), so a holder
   * that cannot renew stops minting before the store can give its id to another process.
   */
  readonly trustForMs: number;
}

/** Renewed every 5 s; a holder that cannot renew stops minting after 15 s; the id is free after 20 s. */
export const WORKER_ID_LEASE_TIMINGS: WorkerIdLeaseTimings = {
  ttlMs: 20_000,
  renewEveryMs: 5_000,
  trustForMs: 15_000,
};

export interface WorkerIdLeaseOptions {
  readonly timings?: WorkerIdLeaseTimings;
  /** The newest timestamp (Unix ms) this process minted, recorded for the id's next holder. */
  readonly newestMintedMs: () => number;
  /** A lease lost, an id taken after one was lost, a renewal that failed. */
  readonly onWarning?: (message: string) => void;
  /** Names this process in the store; unique per lease (a host, a pid and a random part). */
  readonly holder?: string;
  /** Wall clock for the recorded timestamp bound; tests pass their own. */
  readonly wallNow?: () => number;
  /** Monotonic clock for how long a renewal is trusted; tests pass their own. */
  readonly monotonicNow?: () => number;
}

/** The worker id this process may mint with now, and the bound left by the id's previous holders. */
export interface WorkerIdGrant {
  readonly workerId: number;
  readonly previousMintedUntilMs: number | undefined;
}

interface HeldGrant extends WorkerIdGrant {
  /** Monotonic time until which minting with this id is safe. */
  trustedUntil: number;
}

/**
 * The one worker-id lease a process holds: taken at start, renewed in the background, released on
 * close. If renewals fail for longer than `trustForMs`, or the store says another process took the
 * id, minting stops (`grantForMinting` throws) until the lease is renewed or another id is taken:
 * a pause in minting is recoverable, a duplicate id is not.
 */
export class WorkerIdLease {
  readonly holder: string;
  private readonly timings: WorkerIdLeaseTimings;
  private readonly wallNow: () => number;
  private readonly monotonicNow: () => number;
  private grant: HeldGrant | undefined;
  /** Why minting is refused while no grant is trusted. */
  private refusal = "it holds no worker id";
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private closed = false;

  /** Takes the lowest free worker id; throws `NoFreeWorkerIdError` when all are leased. */
  static async acquire(store: WorkerIdLeases, options: WorkerIdLeaseOptions): Promise<WorkerIdLease> {
    const lease = new WorkerIdLease(store, options);
    if (!(await lease.tryAcquire())) {
      throw new NoFreeWorkerIdError(store.where, WORKER_ID_COUNT, lease.timings.ttlMs);
    }
    lease.timer = setInterval(() => lease.tick(), lease.timings.renewEveryMs);
    lease.timer.unref();
    return lease;
  }

  private constructor(
    private readonly store: WorkerIdLeases,
    private readonly options: WorkerIdLeaseOptions,
  ) {
    this.timings = options.timings ?? WORKER_ID_LEASE_TIMINGS;
    if (
      !(this.timings.trustForMs < this.timings.ttlMs && this.timings.renewEveryMs < this.timings.trustForMs)
    ) {
      throw new RangeError("worker-id lease timings need renewEveryMs < trustForMs < ttlMs");
    }
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.wallNow = options.wallNow ?? Date.now;
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
  }

  /** The worker id held now (trusted or not), if any. */
  get workerId(): number | undefined {
    return this.grant?.workerId;
  }

  /** The grant to mint under right now; throws `WorkerIdLeaseLostError` when minting is not safe. */
  grantForMinting(): WorkerIdGrant {
    const grant = this.grant;
    if (grant && this.monotonicNow() < grant.trustedUntil) return grant;
    const reason = grant
      ? `its lease on worker id ${grant.workerId} (${this.store.where}) could not be renewed in time`
      : this.refusal;
    throw new WorkerIdLeaseLostError(reason, Math.max(1, Math.ceil(this.timings.renewEveryMs / 1000)));
  }

  /** Stops renewing and frees the id, recording the newest timestamp minted with it. */
  async release(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.inFlight;
    const grant = this.grant;
    this.grant = undefined;
    this.refusal = "it is shutting down";
    if (!grant) return;
    // Exact, not padded like a renewal's bound: nothing more will be minted with this id here.
    const mintedUntil = Math.max(0, this.options.newestMintedMs(), grant.previousMintedUntilMs ?? 0);
    await this.store.release(grant.workerId, this.holder, mintedUntil);
  }

  private tick(): void {
    if (this.closed || this.inFlight) return;
    const work = this.grant ? this.renew(this.grant) : this.reacquire();
    this.inFlight = work.finally(() => {
      this.inFlight = undefined;
    });
  }

  private async renew(grant: HeldGrant): Promise<void> {
    const sentAt = this.monotonicNow();
    // Every id minted before the store could give this one away: minting stops within trustForMs
    // of now, at wall-clock times up to now + trustForMs (< ttlMs), or at the newest timestamp
    // already used when the generator runs ahead of the clock.
    const mintedUntil =
      Math.max(this.wallNow(), this.options.newestMintedMs(), grant.previousMintedUntilMs ?? 0) +
      this.timings.ttlMs;
    try {
      if (await this.store.renew(grant.workerId, this.holder, this.timings.ttlMs, mintedUntil)) {
        grant.trustedUntil = Math.max(grant.trustedUntil, sentAt + this.timings.trustForMs);
        return;
      }
      this.grant = undefined;
      this.refusal = `another process took over its worker id ${grant.workerId} (${this.store.where})`;
      this.warn(
        `lost the lease on snowflake worker id ${grant.workerId} (${this.store.where}): it expired and another process took it; minting stops until a free id is leased`,
      );
    } catch (error) {
      const stopsIn = Math.max(0, Math.round(grant.trustedUntil - this.monotonicNow()));
      this.warn(
        `could not renew the lease on snowflake worker id ${grant.workerId} (${this.store.where}): ${messageOf(error)}; ` +
          (stopsIn > 0 ? `minting stops in ${stopsIn} ms unless a renewal succeeds` : "minting is stopped"),
      );
    }
  }

  private async reacquire(): Promise<void> {
    try {
      if (await this.tryAcquire()) {
        this.warn(
          `leased snowflake worker id ${this.grant?.workerId} (${this.store.where}); minting resumes`,
        );
      } else {
        this.refusal = `all ${WORKER_ID_COUNT} worker ids on ${this.store.where} are leased by other processes`;
      }
    } catch (error) {
      this.warn(`could not lease a snowflake worker id (${this.store.where}): ${messageOf(error)}`);
    }
  }

  private async tryAcquire(): Promise<boolean> {
    const sentAt = this.monotonicNow();
    const acquired = await this.store.acquire(this.holder, this.timings.ttlMs);
    if (!acquired) return false;
    this.grant = { ...acquired, trustedUntil: sentAt + this.timings.trustForMs };
    return true;
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
