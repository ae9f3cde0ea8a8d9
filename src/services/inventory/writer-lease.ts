import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { Sql } from "../../platform/db/database.js";

const LEASE_SECONDS = 15;
const RENEW_EVERY_MS = 5_000;

/**
 * A lease row that makes a second inventory process on the same database refuse to start, instead
 * of both selling the full stock from their own in-memory ledgers. A crashed holder's lease
 * expires after 15 s; a starting process waits that long for it.
 */
export class WriterLease {
  readonly holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private lost = false;

  constructor(private readonly db: Sql) {}

  /** Takes the lease, waiting up to `waitMs` for an expired one; throws when another process keeps it. */
  async acquire(waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await this.tryTake()) break;
      if (Date.now() >= deadline) {
        const rows = await this.db.query<{ holder: string; expires_at: string }>(
          "SELECT holder, expires_at FROM inventory.writer_lease WHERE id = 1",
        );
        throw new Error(
          `another inventory process (${rows[0]?.holder}) holds this database's writer lease until ${rows[0]?.expires_at}. ` +
            "The inventory keeps its stock ledger in memory and must run as exactly one process per database.",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    this.timer = setInterval(() => {
      this.tryTake().then(
        (held) => {
          if (!held) this.lost = true;
        },
        () => {
          // A failed renewal is retried in 5 s; the lease lasts 15.
        },
      );
    }, RENEW_EVERY_MS);
    this.timer.unref();
  }

  /** False once another process took the lease (this one stalled past its expiry). */
  get held(): boolean {
    return !this.lost;
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.db.query("DELETE FROM inventory.writer_lease WHERE id = 1 AND holder = $1", [this.holder]);
  }

  private async tryTake(): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO inventory.writer_lease (id, holder, expires_at) VALUES (1, $1, now() + make_interval(secs => $2))
       ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE inventory.writer_lease.holder = EXCLUDED.holder OR inventory.writer_lease.expires_at < now()
       RETURNING holder`,
      [this.holder, LEASE_SECONDS],
    );
    return rows.length === 1;
  }
}
