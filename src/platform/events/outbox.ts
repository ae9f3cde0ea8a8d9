import type { Database, Sql } from "../db/database.js";
import type { Logger } from "../observability/logger.js";
import type { Stream } from "../queue/stream.js";
import { type DomainEvent, encodeEvent } from "./domain-event.js";

/** An event to publish on a topic, written in the same transaction as the change it reports. */
export interface OutboxEntry {
  readonly topic: string;
  readonly event: DomainEvent<unknown>;
}

const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;

type OutboxRow = { id: string; topic: string; event: unknown };

/** Table names are built from a service's schema name (never from input): checked all the same. */
function outboxTable(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`not a schema name: ${schema}`);
  return `${schema}.outbox`;
}

/**
 * The transactional outbox: a service writes its events into its own `<schema>.outbox` table in the
 * transaction that makes the change, so a change and its event are committed together or not at
 * all (each service's migrations create the table). The relay takes them to the stream.
 */
export async function writeOutbox(tx: Sql, schema: string, entries: readonly OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.query(
    `INSERT INTO ${outboxTable(schema)} (topic, event)
     SELECT * FROM unnest($1::text[], $2::jsonb[])`,
    [entries.map((e) => e.topic), entries.map((e) => JSON.stringify(e.event))],
  );
}

export interface OutboxRelayOptions {
  readonly db: Database;
  readonly schema: string;
  readonly stream: Stream;
  readonly logger: Logger;
  /** How often an idle relay looks for new events. */
  readonly pollMs?: number;
  /** Events taken per transaction. */
  readonly batch?: number;
}

/**
 * Takes committed outbox rows to the stream, in the order they were written, and deletes them once
 * appended. Rows are locked with SKIP LOCKED while they are appended, so several processes of a
 * service can relay one outbox without appending an event twice at the same time. A relay that
 * dies after appending and before its transaction commits appends those events again: consumers
 * act once per event id, and the append carries the id as its dedup id.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly table: string;
  private passing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = outboxTable(options.schema);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Relays now instead of at the next poll (after a local write). */
  nudge(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Relays what is in the outbox now; resolves to the number of events appended. */
  relayOnce(): Promise<number> {
    // One pass at a time per relay (the loop and a caller may overlap).
    const pass = this.passing.then(() => this.relayPass());
    this.passing = pass.catch(() => {});
    return pass;
  }

  private async relayPass(): Promise<number> {
    const { db, batch = 500 } = this.options;
    if (db.singleSession) {
      // One session for the whole process (PGlite): a transaction held open across the appends
      // would hold up every other query of every service on this database for their durable
      // writes. Nothing else can relay this outbox meanwhile (the embedded database is this
      // process's alone, and passes do not overlap), so the rows need no lock: read, append,
      // delete. A crash between the append and the delete appends them again, as it always could.
      const rows = await db.query<OutboxRow>(
        `SELECT id, topic, event FROM ${this.table} ORDER BY id LIMIT $1`,
        [batch],
      );
      if (rows.length === 0) return 0;
      await this.append(rows);
      await db.query(`DELETE FROM ${this.table} WHERE id = ANY($1::bigint[])`, [rows.map((row) => row.id)]);
      return rows.length;
    }
    return db.transaction(async (tx) => {
      const rows = await tx.query<OutboxRow>(
        `SELECT id, topic, event FROM ${this.table} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batch],
      );
      if (rows.length === 0) return 0;
      await this.append(rows);
      await tx.query(`DELETE FROM ${this.table} WHERE id = ANY($1::bigint[])`, [rows.map((row) => row.id)]);
      return rows.length;
    });
  }

  /** Appended in order; each append is durable before the rows go. */
  private async append(rows: readonly OutboxRow[]): Promise<void> {
    const { stream } = this.options;
    await Promise.all(
      rows.map((row) => {
        const event = (typeof row.event === "string" ? JSON.parse(row.event) : row.event) as DomainEvent;
        return stream.append(row.topic, encodeEvent(event), { dedupId: event.id });
      }),
    );
  }

  private async run(): Promise<void> {
    const { pollMs = 100, batch = 500, logger } = this.options;
    let failures = 0;
    while (this.running) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 50 === 0) {
          logger.error(
            { err: error, schema: this.options.schema, failures },
            "relaying outbox events failed",
          );
        }
      }
      if (relayed >= batch || !this.running) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, failures > 0 ? Math.min(5_000, pollMs * 2 ** failures) : pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
