import type { Database, TransactionSql } from "../db/database.js";
import { blameFor } from "../errors/failure-blame.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { ConsumerGroup, Delivery, Stream } from "../queue/stream.js";
import { backoffWithJitter } from "./backoff.js";
import { type DomainEvent, decodeEvent } from "./domain-event.js";

/**
 * Handles one event inside the transaction that also records it as processed. Work that must
 * wait for that commit (telling an in-memory view, say) goes to `afterCommit`; it runs once the
 * transaction committed, before the message is acked.
 */
export type EventHandler = (
  event: DomainEvent,
  tx: TransactionSql,
  afterCommit: (work: () => Promise<void>) => void,
) => Promise<void>;

export interface EventConsumerOptions {
  readonly stream: Stream;
  readonly topic: string;
  /** The consumer group: one per consuming service and purpose (e.g. `inventory.on-orders`). */
  readonly group: string;
  /** Where the effects (and the processed-event keys) live; may depend on the event (a shard). */
  readonly database: (event: DomainEvent) => Database;
  /** The consuming service's schema, holding its `processed_events` table. */
  readonly schema: string;
  readonly handle: EventHandler;
  /**
   * The event types `handle` acts on. Others are acked without a transaction or a processed key:
   * an event that changes nothing needs no record that it changed nothing. Undefined: every type.
   */
  readonly types?: readonly string[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Deliveries before a message goes to the dead letters (`floodgate dlq` shows and replays them). */
  readonly maxAttempts?: number;
  readonly visibilityTimeoutMs?: number;
  readonly batch?: number;
  /** Backoff of a failed event: full jitter, from this base, up to the cap. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
}

const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * A service's consumer of another's events: every effect exactly once, however often an event
 * arrives. Each event is handled in one transaction that first records its id in the consumer's
 * `<schema>.processed_events` (a duplicate changes nothing and is acked), then applies the
 * handler's writes (outbox rows included), and only after the commit is the message acked. A
 * failure rolls everything back and gives the message back with exponential backoff and jitter;
 * after `maxAttempts` the stream dead-letters it for an operator to inspect and replay. A failure
 * that is an outage (see blameFor) holds the event instead, spending no attempt.
 */
export class EventConsumer {
  private readonly group: ConsumerGroup;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly processed;
  private readonly table: string;
  /** A held event waits at most this long between tries: a third of its visibility timeout, so touches keep it. */
  private readonly holdCapMs: number;

  constructor(private readonly options: EventConsumerOptions) {
    if (!SCHEMA_NAME.test(options.schema)) throw new Error(`not a schema name: ${options.schema}`);
    this.table = `${options.schema}.processed_events`;
    this.holdCapMs = (options.visibilityTimeoutMs ?? 30_000) / 3;
    this.group = options.stream.group(options.topic, options.group, {
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
      maxAttempts: options.maxAttempts ?? 10,
    });
    this.processed = options.metrics.counter(
      "events_consumed_total",
      "Events handled by consumers, by group and outcome (applied, duplicate, ignored, failed, malformed).",
      ["group", "outcome"],
    );
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the events in hand, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.group.close();
  }

  /** Messages not yet handled (for tests and readiness of a drain). */
  lag(): Promise<number> {
    return this.group.lag();
  }

  private async run(): Promise<void> {
    const { batch = 50, logger } = this.options;
    while (this.running) {
      let deliveries: Delivery[];
      try {
        deliveries = await this.group.fetch(batch, 250);
      } catch (error) {
        if (!this.running) return;
        logger.error({ err: error, group: this.options.group }, "fetching events failed");
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      // In the order fetched; a redelivery may still come after later events about the same
      // thing, so handlers never rely on order (docs/order-lifecycle.md).
      await this.handleBatch(deliveries);
    }
  }

  /**
   * A fetched batch: the events bound for one database are applied in one transaction (each with
   * its processed key, in the order fetched), then each one's after-commit work runs and the
   * messages are acked. One transaction per batch instead of per event is what lets a consumer
   * keep up on a single-session database (PGlite), where every transaction of the process queues
   * behind the others. If that transaction fails for any reason, nothing of it committed, and its
   * events are handled again one at a time, each in its own transaction with its own retries:
   * one failing event never holds back or poisons the others.
   */
  private async handleBatch(deliveries: readonly Delivery[]): Promise<void> {
    const byDatabase = new Map<Database, { event: DomainEvent; delivery: Delivery }[]>();
    const ignored: Delivery[] = [];
    for (const delivery of deliveries) {
      const event = decodeEvent(delivery.data);
      // Malformed: handled alone (given back until dead-lettered).
      if (!event) {
        await this.handle(delivery);
        continue;
      }
      if (this.ignores(event)) {
        ignored.push(delivery);
        continue;
      }
      let database: Database;
      try {
        database = this.options.database(event);
      } catch {
        await this.handle(delivery);
        continue;
      }
      const items = byDatabase.get(database) ?? [];
      items.push({ event, delivery });
      byDatabase.set(database, items);
    }
    await Promise.all(ignored.map((delivery) => this.ackIgnored(delivery)));
    for (const [database, items] of byDatabase) {
      if (items.length === 1) {
        await this.handle(items[0]!.delivery);
        continue;
      }
      let applied: { delivery: Delivery; fresh: boolean; committed: (() => Promise<void>)[] }[];
      try {
        applied = await database.transaction(async (tx) => {
          // Every processed key in one statement; then the fresh events, in the order fetched.
          const fresh = await this.recordAll(
            items.map((item) => item.event),
            tx,
          );
          const done = [];
          for (const { event, delivery } of items) {
            const committed: (() => Promise<void>)[] = [];
            // A second copy of one event in the same batch is a duplicate: only the first is fresh.
            const isFresh = fresh.delete(event.id);
            if (isFresh) await this.options.handle(event, tx, (work) => committed.push(work));
            done.push({ delivery, fresh: isFresh, committed });
          }
          return done;
        });
      } catch (error) {
        this.options.logger.debug(
          { err: error, group: this.options.group, events: items.length },
          "a batch of events failed; handling them one at a time",
        );
        for (const { delivery } of items) await this.handle(delivery);
        continue;
      }
      const { group, logger, retryBaseMs = 200, retryCapMs = 30_000 } = this.options;
      // Each event's after-commit work, in the order applied; then the acks, together.
      const giveBack = async (delivery: Delivery, error: unknown) => {
        // Its effects committed: given back, it comes again as a duplicate, and that is acked.
        this.processed.inc({ group, outcome: "failed" });
        logger.warn(
          { err: error, group, messageId: delivery.id },
          "finishing an applied event failed; it will come again",
        );
        await delivery.nak(backoffWithJitter(delivery.attempt, retryBaseMs, retryCapMs)).catch(() => {});
      };
      const finished: { delivery: Delivery; fresh: boolean }[] = [];
      for (const { delivery, fresh, committed } of applied) {
        try {
          for (const work of committed) await work();
          finished.push({ delivery, fresh });
        } catch (error) {
          await giveBack(delivery, error);
        }
      }
      await Promise.all(
        finished.map(({ delivery, fresh }) =>
          delivery.ack().then(
            () => this.processed.inc({ group, outcome: fresh ? "applied" : "duplicate" }),
            (error: unknown) => giveBack(delivery, error),
          ),
        ),
      );
    }
  }

  private ignores(event: DomainEvent): boolean {
    return this.options.types !== undefined && !this.options.types.includes(event.type);
  }

  private async ackIgnored(delivery: Delivery): Promise<void> {
    const { group } = this.options;
    try {
      await delivery.ack();
      this.processed.inc({ group, outcome: "ignored" });
    } catch (error) {
      // It comes again, and is ignored again.
      this.options.logger.warn(
        { err: error, group, messageId: delivery.id },
        "acking an ignored event failed",
      );
    }
  }

  /** Records the events as processed in `tx`, in one statement; the ids recorded now (the others are duplicates). */
  private async recordAll(events: readonly DomainEvent[], tx: TransactionSql): Promise<Set<string>> {
    const rows = await tx.query<{ event_id: string }>(
      `INSERT INTO ${this.table} (event_id, event_type)
       SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
      [events.map((event) => event.id), events.map((event) => event.type)],
    );
    return new Set(rows.map((row) => row.event_id));
  }

  /** Records the event as processed and applies it in `tx`; false (nothing applied) for a duplicate. */
  private async recordAndHandle(
    event: DomainEvent,
    tx: TransactionSql,
    committed: (() => Promise<void>)[],
  ): Promise<boolean> {
    const fresh = await tx.query(
      `INSERT INTO ${this.table} (event_id, event_type) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id`,
      [event.id, event.type],
    );
    if (fresh.length === 0) return false;
    await this.options.handle(event, tx, (work) => committed.push(work));
    return true;
  }

  private async handle(delivery: Delivery): Promise<void> {
    const { group, logger, retryBaseMs = 200, retryCapMs = 30_000 } = this.options;
    const event = decodeEvent(delivery.data);
    if (!event) {
      this.processed.inc({ group, outcome: "malformed" });
      logger.error(
        { group, messageId: delivery.id },
        "malformed event; giving it back until it is dead-lettered",
      );
      await delivery.nak(retryCapMs).catch(() => {});
      return;
    }
    if (this.ignores(event)) {
      await this.ackIgnored(delivery);
      return;
    }
    // An outage of what the handler depends on (the database down or failing over, a lock
    // timeout, another service unreachable) is not the event's fault: the event is held, touched
    // so it stays invisible, and tried again, without spending one of its delivery attempts; an
    // outage longer than maxAttempts × backoff would otherwise dead-letter every event in flight.
    for (let outageTry = 1; ; outageTry++) {
      let error: unknown;
      try {
        await this.apply(event, delivery);
        return;
      } catch (caught) {
        error = caught;
      }
      this.processed.inc({ group, outcome: "failed" });
      if (this.running && blameFor(error) === "dependency") {
        const delayMs = backoffWithJitter(outageTry, retryBaseMs, Math.min(retryCapMs, this.holdCapMs));
        logger.warn(
          { err: error, group, eventId: event.id, type: event.type, outageTry, retryInMs: delayMs },
          "handling an event failed on an outage; holding it and trying again",
        );
        await delivery.touch().catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        continue;
      }
      const delayMs = backoffWithJitter(delivery.attempt, retryBaseMs, retryCapMs);
      logger.warn(
        {
          err: error,
          group,
          eventId: event.id,
          type: event.type,
          attempt: delivery.attempt,
          retryInMs: delayMs,
        },
        "handling an event failed; it will be retried",
      );
      await delivery.nak(delayMs).catch(() => {});
      return;
    }
  }

  /** One try: the event's transaction (processed key and effects), its after-commit work, the ack. */
  private async apply(event: DomainEvent, delivery: Delivery): Promise<void> {
    const { group } = this.options;
    const committed: (() => Promise<void>)[] = [];
    const applied = await this.options
      .database(event)
      .transaction((tx) => this.recordAndHandle(event, tx, committed));
    for (const work of committed) await work();
    await delivery.ack();
    this.processed.inc({ group, outcome: applied ? "applied" : "duplicate" });
  }
}
