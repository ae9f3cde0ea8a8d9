import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Carrier } from "../../../src/platform/carrier/carrier.js";
import { CarrierSimulator } from "../../../src/platform/carrier/carrier-simulator.js";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import {
  type DomainEvent,
  decodeEvent,
  encodeEvent,
  newEvent,
} from "../../../src/platform/events/domain-event.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import { openJetStream } from "../../../src/platform/queue/nats/jetstream-stream.js";
import type { ConsumerGroup, Stream } from "../../../src/platform/queue/stream.js";
import { Fulfillment, type FulfillmentOptions } from "../../../src/services/fulfillment/fulfillment.js";
import { FULFILLMENT_EVENTS_TOPIC } from "../../../src/services/fulfillment/fulfillment-events.js";
import { ORDER_EVENTS_TOPIC } from "../../../src/services/orders/order-events.js";
import { servers } from "../../support/infra.js";
import { deleteStreams } from "../../support/nats-streams.js";
import { createScratchPostgresDatabase } from "../../support/scratch-postgres.js";

const FULFILLMENT_MIGRATIONS = fileURLToPath(
  new URL("../../../src/services/fulfillment/migrations", import.meta.url),
);

/** Where a harness keeps its data: PGlite and the embedded log, or PostgreSQL and NATS JetStream. */
export type Infrastructure = "embedded" | "servers";

/** Everything the fulfilment service meets: a database, a stream, and the simulator's books. */
export interface FulfillmentHarness {
  readonly db: Database;
  readonly stream: Stream;
  /** The simulator, on the harness's database (what a real carrier would hold). */
  readonly simulator: CarrierSimulator;
  /** Every event the service published, in order (read by a group of the test's own). */
  readonly published: PublishedEvents;
  /** A fulfilment process on these (several may run at once); stopped by `close`. */
  startFulfillment(carrier?: Carrier, options?: Partial<FulfillmentOptions>): Fulfillment;
  /** Stops the fulfilment processes started so far (a test that wants its own carrier). */
  stopFulfillments(): Promise<void>;
  /** Publishes an order event as the orders service would (no dedup id: duplicates are delivered). */
  publishOrderEvent(event: DomainEvent): Promise<void>;
  /** Parcels the carrier holds for an order (by the reference on the label), and their cancellation. */
  parcelsOf(orderId: string): Promise<{ tracking_number: string; cancelled: boolean }[]>;
  close(): Promise<void>;
}

export function orderPaid(orderId: string, userId = "buyer-1"): DomainEvent {
  return newEvent("order.paid", {
    orderId,
    userId,
    sku: "TEE-1",
    quantity: 2,
    amountCents: 3998,
    currency: "EUR",
    paymentId: `pay-${orderId}`,
  });
}

export function orderRefunded(orderId: string, from: string, userId = "buyer-1"): DomainEvent {
  return newEvent("order.refunded", {
    orderId,
    userId,
    sku: "TEE-1",
    quantity: 2,
    amountCents: 3998,
    currency: "EUR",
    paymentId: `pay-${orderId}`,
    from,
  });
}

/** A new order id each call (the service treats them as opaque strings). */
export function newOrderId(): string {
  return `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
}

export async function openFulfillmentHarness(
  infrastructure: Infrastructure,
  deliverySeconds: number,
): Promise<FulfillmentHarness> {
  const cleanups: (() => Promise<void>)[] = [];
  let db: Database;
  let stream: Stream;
  if (infrastructure === "embedded") {
    const dir = mkdtempSync(join(tmpdir(), "floodgate-fulfillment-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    db = await openPgliteDatabase({ name: "fulfillment-test" });
    stream = await openEmbeddedStream(join(dir, "queue"));
  } else {
    const scratch = await createScratchPostgresDatabase();
    cleanups.push(() => scratch.drop());
    db = await openPgDatabase({ url: scratch.url, name: "fulfillment-test", poolSize: 8 });
    const prefix = `fgful${randomBytes(4).toString("hex")}`;
    stream = await openJetStream(servers.nats.url, {
      streamPrefix: `${prefix.toUpperCase()}_`,
      subjectPrefix: prefix,
    });
    cleanups.push(() => deleteStreams(servers.nats.url, `${prefix.toUpperCase()}_`));
  }
  await runMigrations(db, "fulfillment", FULFILLMENT_MIGRATIONS);
  const simulator = await CarrierSimulator.open(db, { deliverySeconds });
  const published = new PublishedEvents(stream);
  const running: Fulfillment[] = [];
  const logger = createLogger(process.env.FLOODGATE_TEST_LOG_LEVEL ?? "silent");
  return {
    db,
    stream,
    simulator,
    published,
    startFulfillment(carrier = simulator, options = {}) {
      const fulfillment = new Fulfillment({
        db,
        stream,
        carrier,
        logger,
        metrics: new Metrics({}, { processMetrics: false }),
        pollMs: 50,
        carrierTimeoutMs: 2_000,
        retryBaseMs: 100,
        retryCapMs: 1_000,
        ...options,
      });
      fulfillment.start();
      running.push(fulfillment);
      return fulfillment;
    },
    async stopFulfillments() {
      await Promise.all(running.splice(0).map((fulfillment) => fulfillment.stop()));
    },
    async publishOrderEvent(event) {
      // No dedup id: a duplicate must reach the consumer, as it would from a relay that appended
      // twice outside the broker's duplicate window.
      await stream.append(ORDER_EVENTS_TOPIC, encodeEvent(event));
    },
    parcelsOf: (orderId) =>
      db.query<{ tracking_number: string; cancelled: boolean }>(
        `SELECT tracking_number, cancelled_at IS NOT NULL AS cancelled
         FROM carrier_simulator.shipments WHERE reference = $1`,
        [orderId],
      ),
    async close() {
      await Promise.all(running.splice(0).map((fulfillment) => fulfillment.stop()));
      await published.close();
      await simulator.close();
      await stream.close();
      await db.close();
      for (const cleanup of cleanups) await cleanup();
    },
  };
}

/** Reads `fulfillment.events` with a group of its own, from the start, into memory. */
export class PublishedEvents {
  readonly events: DomainEvent[] = [];
  private readonly group: ConsumerGroup;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(stream: Stream) {
    this.group = stream.group(FULFILLMENT_EVENTS_TOPIC, `test-reader-${randomUUID()}`, {
      visibilityTimeoutMs: 30_000,
      maxAttempts: 100,
    });
    this.loop = this.read();
  }

  of(orderId: string, type?: string): DomainEvent[] {
    return this.events.filter((e) => e.data.orderId === orderId && (type === undefined || e.type === type));
  }

  async close(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.group.close();
  }

  private async read(): Promise<void> {
    while (this.running) {
      const deliveries = await this.group.fetch(100, 100).catch(() => []);
      for (const delivery of deliveries) {
        const event = decodeEvent(delivery.data);
        if (event) this.events.push(event);
        await delivery.ack();
      }
    }
  }
}
