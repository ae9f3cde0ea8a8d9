import { setTimeout as sleep } from "node:timers/promises";
import { TokenBucket } from "../../platform/batching/token-bucket.js";
import type { Database } from "../../platform/db/database.js";
import type { ShardRouter } from "../../platform/db/shard-router.js";
import { shardOfSnowflake } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { ConsumerGroup, Delivery } from "../../platform/queue/stream.js";
import type { InventoryApi, ReservationRef } from "../inventory/api.js";
import { HeldDeliveries } from "./held-deliveries.js";
import { decodeOrderRequest, type OrderRequest } from "./order-request.js";
import { OrderStore } from "./order-store.js";
import { RetryBackoff } from "./retry-backoff.js";
import { storeRound } from "./store-round.js";

export interface OrderWriterOptions {
  readonly group: ConsumerGroup;
  readonly databases: ShardRouter;
  readonly inventory: InventoryApi;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly batchSize: number;
  /** Rows per second; 0 = no ceiling. */
  readonly writeRate: number;
  /** An order stored now is cancelled if still unpaid this long after (default 900). */
  readonly paymentTimeoutSeconds?: number;
  /** First wait before retrying messages a dependency failed; doubles per failure. Default 500 ms. */
  readonly retryInitialMs?: number;
  /** The longest wait between retries, however long the outage lasts. Default 15 s. */
  readonly retryMaxMs?: number;
  /**
   * How often the messages in hand are touched so the group does not redeliver them. Must be well
   * inside the group's visibility timeout, FLOODGATE_ORDER_REDELIVERY_SECONDS (at least 5 s).
   * Default 1.5 s.
   */
  readonly touchIntervalMs?: number;
}

const FETCH_WAIT_MS = 250;
/** Pause after the queue itself could not be read. */
const FETCH_RETRY_MS = 1000;
/** Delay of the redelivery of a message given back for its own fault. */
const GIVE_BACK_DELAY_MS = 1000;
const DEFAULT_RETRY_INITIAL_MS = 500;
const DEFAULT_RETRY_MAX_MS = 15_000;
/** A third of the shortest visibility timeout the configuration allows (5 s), less a margin. */
const DEFAULT_TOUCH_INTERVAL_MS = 1_500;

/** A message in hand, decoded. */
interface HeldOrder {
  readonly delivery: Delivery;
  readonly request: OrderRequest;
}

/**
 * The order worker: drains `orders.requested` in batches, stores each batch with one INSERT per
 * shard, confirms the reservations, and acks only after both committed. A crash anywhere before
 * the ack means redelivery, which the INSERT's ON CONFLICT and the idempotent confirm absorb.
 *
 * Delivery attempts are spent only on a message's own failure: an outage of a dependency (the
 * inventory, a database) never counts one, however long it lasts. The worker holds what it took,
 * touching it so it is not redelivered, and retries with backoff until the outage ends. Only a
 * message refused for what it carries, or one that fails while another goes through right after
 * it, is given back (a nak: one attempt; after the group's maximum, the dead-letter topic).
 */
export class OrderWriter {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly bucket: TokenBucket | undefined;
  /** Messages per batch: the configured size, or less under a write ceiling (see the constructor). */
  private readonly batchSize: number;
  private readonly held: HeldDeliveries<HeldOrder>;
  private readonly backoff: RetryBackoff;
  /** A reservation this worker confirmed and stored lately: evidence that the inventory serves. */
  private witness: ReservationRef | undefined;
  private readonly stored;
  private readonly batches;
  private readonly dropped;

  constructor(private readonly options: OrderWriterOptions) {
    // Writes are paced in slices of a tenth of a second's allowance: the bucket never holds more
    // than one slice, so however long the workers were idle, no 100 ms window (and so no sample
    // a dashboard or benchmark takes) sees more than the ceiling. Without a ceiling, whole batches.
    this.batchSize =
      options.writeRate > 0
        ? Math.max(1, Math.min(options.batchSize, Math.ceil(options.writeRate / 10)))
        : options.batchSize;
    this.bucket = options.writeRate > 0 ? new TokenBucket(options.writeRate, this.batchSize) : undefined;
    this.held = new HeldDeliveries(options.touchIntervalMs ?? DEFAULT_TOUCH_INTERVAL_MS, (error, failed) =>
      options.logger.warn(
        { err: error, failed },
        "could not touch held order requests; the queue may deliver them again meanwhile",
      ),
    );
    this.backoff = new RetryBackoff({
      initialMs: options.retryInitialMs ?? DEFAULT_RETRY_INITIAL_MS,
      maxMs: options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS,
    });
    this.stored = options.metrics.counter(
      "orders_stored_total",
      "Orders written to the database by workers.",
    );
    this.dropped = options.metrics.counter(
      "orders_dropped_total",
      "Order messages not stored because their reservation was released or never written: no buyer was told 202 for them.",
    );
    this.batches = options.metrics.histogram(
      "orders_write_batch_seconds",
      "Time to store and confirm one batch of orders.",
    );
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops after the store call in progress, without waiting out an outage: the messages still
   * held are let go without a nak, so they cost no attempt here and come back after the
   * visibility timeout (or when closing the group hands them back).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    try {
      while (this.running) {
        await this.takeMore();
        if (this.held.size === 0 || !this.running) continue;
        await this.storeHeld();
        if (this.held.size === 0) {
          this.backoff.reset();
        } else if (this.running) {
          const retryInMs = this.backoff.next();
          this.options.logger.warn(
            { held: this.held.size, retryInMs },
            "holding order requests until what they depend on recovers",
          );
          await this.pause(retryInMs);
        }
      }
    } finally {
      this.held.releaseAll();
    }
  }

  /**
   * Tops what is held up to a batch. While something is held (an outage) it does not wait for
   * more: the held messages are retried as soon as the backoff allows.
   */
  private async takeMore(): Promise<void> {
    const room = this.batchSize - this.held.size;
    if (room <= 0) return;
    let deliveries: Delivery[];
    try {
      deliveries = await this.options.group.fetch(room, this.held.size === 0 ? FETCH_WAIT_MS : 0);
    } catch (error) {
      if (!this.running) return;
      this.options.logger.error({ err: error }, "fetching order requests failed");
      if (this.held.size === 0) await this.pause(FETCH_RETRY_MS);
      return;
    }
    if (deliveries.length === 0) return;
    await this.bucket?.take(deliveries.length, this.stopping.signal);
    this.held.add(await this.decode(deliveries));
  }

  /** One round over everything held (see storeRound): stored ones are done, those at fault given back. */
  private async storeHeld(): Promise<void> {
    const { stored, atFault, failure } = await storeRound(this.held.list(), {
      store: (orders) => this.store(orders),
      dependenciesServe: (order) => this.dependenciesServe(order),
      dependencyOf: (order) => this.databaseOf(order),
      running: () => this.running,
    });
    if (failure !== undefined) {
      this.options.logger.error(
        { err: failure.error, blame: failure.blame, batch: this.held.size, stored: stored.length },
        "storing an order batch failed",
      );
    }
    for (const order of stored) this.held.remove(order);
    for (const { item, error } of atFault) await this.giveBack(item, error);
  }

  /**
   * Whether the inventory and the order's database serve other work right now: the inventory
   * confirms again a reservation this worker confirmed lately (a real confirm, which changes
   * nothing the second time), and the database answers a query.
   */
  private async dependenciesServe(order: HeldOrder): Promise<boolean> {
    const witness = this.witness;
    if (witness === undefined) return false;
    try {
      await Promise.all([
        this.options.inventory.confirm({ reservations: [witness] }),
        this.databaseOf(order).query("SELECT 1"),
      ]);
      return true;
    } catch {
      return false;
    }
  }

  private databaseOf(order: HeldOrder): Database {
    return this.options.databases.forVirtualShard(shardOfSnowflake(order.request.orderId)!);
  }

  /** The message failed on its own: a nak, which counts a delivery attempt. */
  private async giveBack(order: HeldOrder, error: unknown): Promise<void> {
    this.held.remove(order);
    this.options.logger.error(
      {
        err: error,
        messageId: order.delivery.id,
        orderId: order.request.orderId,
        attempt: order.delivery.attempt,
      },
      "storing an order failed on its own; giving it back",
    );
    await order.delivery.nak(GIVE_BACK_DELAY_MS).catch((nakError: unknown) => {
      this.options.logger.warn(
        { err: nakError, messageId: order.delivery.id },
        "giving an order request back failed",
      );
    });
  }

  /** Waits, or less when the worker stops. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(() => undefined);
  }

  /**
   * Decodes what was fetched. A malformed message is refused for what it is, so it is given back
   * at once: after the group's max attempts it lands in the dead-letter topic for an operator.
   */
  private async decode(deliveries: readonly Delivery[]): Promise<HeldOrder[]> {
    const valid: HeldOrder[] = [];
    for (const delivery of deliveries) {
      const request = decodeOrderRequest(delivery.data);
      if (request && shardOfSnowflake(request.orderId) !== undefined) valid.push({ delivery, request });
      else {
        this.options.logger.error({ messageId: delivery.id }, "malformed order request");
        await delivery.nak(GIVE_BACK_DELAY_MS);
      }
    }
    return valid;
  }

  /**
   * Stores one batch: confirms its reservations, inserts the confirmed orders, acks every message
   * (malformed ones are given back). Throws (acking nothing) when that fails. Tests call it.
   */
  async storeBatch(deliveries: readonly Delivery[]): Promise<void> {
    const valid = await this.decode(deliveries);
    if (valid.length > 0) await this.store(valid);
  }

  /** Confirms, inserts, acks; throws (acking nothing) when a step fails. */
  private async store(valid: readonly HeldOrder[]): Promise<void> {
    const started = performance.now();
    // Confirm first, then store: a crash in between leaves the messages unacked, and the
    // redelivery finds the reservations confirmed already (confirm is idempotent). The
    // reservation's row decides: only an order whose reservation it confirms is ever stored.
    const outcome = await this.options.inventory.confirm({
      reservations: valid.map(({ request }) => ({ orderId: request.orderId, sku: request.sku })),
    });
    // Released (its intake answered 503, or it expired with nothing in the queue) or never written
    // (its reserve was refused): no buyer was told 202 for these, so they are not stored.
    const notConfirmed = new Set(outcome.notConfirmed);
    if (notConfirmed.size > 0) {
      this.dropped.inc(notConfirmed.size);
      this.options.logger.warn({ orders: [...notConfirmed] }, "dropped orders no buyer was told 202 for");
    }

    // One INSERT per physical shard, all shards in parallel.
    const byShard = new Map<OrderStore, OrderRequest[]>();
    for (const { request } of valid) {
      if (notConfirmed.has(request.orderId)) continue;
      const store = this.storeFor(shardOfSnowflake(request.orderId)!);
      const list = byShard.get(store);
      if (list) list.push(request);
      else byShard.set(store, [request]);
    }
    const storedAt = new Date().toISOString();
    const inserted = await Promise.all(
      [...byShard].map(([store, requests]) =>
        store.insertCreated(requests, storedAt, this.options.paymentTimeoutSeconds ?? 900),
      ),
    );
    this.stored.inc(inserted.reduce((sum, n) => sum + n, 0));
    await Promise.all(valid.map(({ delivery }) => delivery.ack()));
    const confirmed = valid.find(({ request }) => !notConfirmed.has(request.orderId))?.request;
    if (confirmed !== undefined) this.witness = { orderId: confirmed.orderId, sku: confirmed.sku };
    this.batches.observe((performance.now() - started) / 1000);
  }

  private readonly storesByDatabase = new Map<unknown, OrderStore>();

  private storeFor(virtualShard: number): OrderStore {
    const db = this.options.databases.forVirtualShard(virtualShard);
    let store = this.storesByDatabase.get(db);
    if (!store) {
      store = new OrderStore(db);
      this.storesByDatabase.set(db, store);
    }
    return store;
  }
}
