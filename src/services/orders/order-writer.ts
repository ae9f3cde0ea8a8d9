import { TokenBucket } from "../../platform/batching/token-bucket.js";
import type { ShardRouter } from "../../platform/db/shard-router.js";
import { shardOfSnowflake } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { ConsumerGroup, Delivery } from "../../platform/queue/stream.js";
import type { InventoryApi } from "../inventory/api.js";
import { decodeOrderRequest, type OrderRequest } from "./order-request.js";
import { OrderStore } from "./order-store.js";

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
}

const FETCH_WAIT_MS = 250;
const RETRY_DELAY_MS = 1000;
/**
 * About 15 s in all: within the default 30 s redelivery (FLOODGATE_ORDER_REDELIVERY_SECONDS). With
 * a shorter one another worker may take the batch over meanwhile; the idempotent insert absorbs it.
 */
const BATCH_RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

/**
 * The order worker: drains `orders.requested` in batches, stores each batch with one INSERT per
 * shard, confirms the reservations, and acks only after both committed. A crash anywhere before
 * the ack means redelivery, which the INSERT's ON CONFLICT and the idempotent confirm absorb.
 */
export class OrderWriter {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly stopping = new AbortController();
  private readonly bucket: TokenBucket | undefined;
  /** Messages per batch: the configured size, or less under a write ceiling (see the constructor). */
  private readonly batchSize: number;
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

  /** Finishes the batch in hand, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const log = this.options.logger;
    while (this.running) {
      let deliveries: Delivery[];
      try {
        deliveries = await this.options.group.fetch(this.batchSize, FETCH_WAIT_MS);
      } catch (error) {
        if (!this.running) return;
        log.error({ err: error }, "fetching order requests failed");
        await sleep(RETRY_DELAY_MS);
        continue;
      }
      if (deliveries.length === 0) continue;
      await this.bucket?.take(deliveries.length);
      await this.processWithRetries(deliveries);
    }
  }

  /**
   * A failing batch is usually a failing dependency (the database, inventory), not bad messages:
   * retry it whole with backoff, holding the messages (well inside their visibility timeout), so an
   * outage does not use up their delivery attempts and send accepted orders to the dead-letter
   * topic. Only if it still fails are the messages tried one by one; those that fail alone are
   * given back and count an attempt.
   */
  private async processWithRetries(deliveries: readonly Delivery[]): Promise<void> {
    const log = this.options.logger;
    for (const delayMs of BATCH_RETRY_DELAYS_MS) {
      try {
        await this.storeBatch(deliveries);
        return;
      } catch (error) {
        log.error(
          { err: error, batch: deliveries.length, retryInMs: delayMs },
          "storing an order batch failed",
        );
        if (!this.running) return; // unacked: redelivered after the restart
        await sleep(delayMs);
      }
    }
    for (const delivery of deliveries) {
      try {
        await this.storeBatch([delivery]);
      } catch (error) {
        log.error({ err: error, messageId: delivery.id }, "storing an order failed; giving it back");
        await delivery.nak(RETRY_DELAY_MS).catch(() => {});
      }
    }
  }

  /**
   * Stores one batch: confirms its reservations, inserts the confirmed orders, acks every message.
   * Throws (acking nothing) when a dependency fails. The loop calls it; so do tests.
   */
  async storeBatch(deliveries: readonly Delivery[]): Promise<void> {
    const started = performance.now();
    const valid: { delivery: Delivery; request: OrderRequest }[] = [];
    for (const delivery of deliveries) {
      const request = decodeOrderRequest(delivery.data);
      if (request && shardOfSnowflake(request.orderId) !== undefined) valid.push({ delivery, request });
      else {
        // Give it back: after the group's max attempts it lands in the dead-letter topic for an operator.
        this.options.logger.error({ messageId: delivery.id }, "malformed order request");
        await delivery.nak(RETRY_DELAY_MS);
      }
    }
    if (valid.length === 0) return;

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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
