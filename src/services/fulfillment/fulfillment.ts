import type { Carrier } from "../../platform/carrier/carrier.js";
import type { Database } from "../../platform/db/database.js";
import { EventConsumer } from "../../platform/events/event-consumer.js";
import { OutboxRelay } from "../../platform/events/outbox.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { Stream } from "../../platform/queue/stream.js";
import { ORDER_EVENTS_TOPIC } from "../orders/order-events.js";
import { DeliveryTracker } from "./delivery-tracker.js";
import { FulfillmentMetrics } from "./fulfillment-metrics.js";
import { OrderEventHandlers } from "./order-event-handlers.js";
import { ShipmentCanceller } from "./shipment-canceller.js";
import { ShipmentDispatcher } from "./shipment-dispatcher.js";
import { FULFILLMENT_SCHEMA, ShipmentStore } from "./shipment-store.js";
import type { ShipmentSweepOptions } from "./shipment-sweep.js";
import { SweepLoop } from "./sweep-loop.js";

export const FULFILLMENT_ORDERS_GROUP = "fulfillment.on-orders";

export interface FulfillmentOptions {
  /** The database holding the `fulfillment` schema (the primary). */
  readonly db: Database;
  readonly stream: Stream;
  readonly carrier: Carrier;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How often idle sweeps look for due shipments. */
  readonly pollMs?: number;
  readonly batch?: number;
  readonly leaseSeconds?: number;
  readonly carrierTimeoutMs?: number;
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  /** Deliveries of one order event before it is dead-lettered (see EventConsumer). */
  readonly maxEventAttempts?: number;
}

/**
 * The fulfilment service's background work in one process: the consumer of order events, the
 * three sweeps that talk to the carrier (dispatch, deliveries, call-backs), and the outbox relay
 * that publishes what they recorded. Any number of processes may run it on one database: the
 * consumer group shares the events among them, and the sweeps lease the rows they work on.
 */
export class Fulfillment {
  readonly store: ShipmentStore;
  private readonly relay: OutboxRelay;
  private readonly consumer: EventConsumer;
  private readonly loops: SweepLoop[];

  constructor(options: FulfillmentOptions) {
    const { db, stream, carrier, logger } = options;
    const batch = options.batch ?? 100;
    const pollMs = options.pollMs ?? 250;
    const metrics = new FulfillmentMetrics(options.metrics);
    this.store = new ShipmentStore(db);
    this.relay = new OutboxRelay({ db, schema: FULFILLMENT_SCHEMA, stream, logger });
    const carrierTimeoutMs = options.carrierTimeoutMs ?? 10_000;
    const sweepOptions: ShipmentSweepOptions = {
      db,
      store: this.store,
      carrier,
      metrics,
      logger,
      batch,
      // Twice the longest call: a lease never runs out while its call can still be under way.
      leaseSeconds: options.leaseSeconds ?? (2 * carrierTimeoutMs) / 1000,
      carrierTimeoutMs,
      retryBaseMs: options.retryBaseMs ?? 1_000,
      retryCapMs: options.retryCapMs ?? 5 * 60_000,
      onEventsWritten: () => this.relay.nudge(),
    };
    const dispatcher = new ShipmentDispatcher(sweepOptions);
    const tracker = new DeliveryTracker(sweepOptions);
    const canceller = new ShipmentCanceller(sweepOptions);
    const loop = (name: string, sweep: () => Promise<number>) =>
      new SweepLoop({ name, sweep, batch, pollMs, logger });
    const dispatching = loop("dispatch", () => dispatcher.sweep());
    const cancelling = loop("call-back", () => canceller.sweep());
    this.loops = [dispatching, loop("deliveries", () => tracker.sweep()), cancelling];
    const handlers = new OrderEventHandlers({
      logger,
      metrics,
      onShipmentRequested: () => dispatching.nudge(),
      onCallBackRequested: () => cancelling.nudge(),
    });
    this.consumer = new EventConsumer({
      stream,
      topic: ORDER_EVENTS_TOPIC,
      group: FULFILLMENT_ORDERS_GROUP,
      database: () => db,
      schema: FULFILLMENT_SCHEMA,
      handle: (event, tx, afterCommit) => handlers.onOrderEvent(event, tx, afterCommit),
      types: ["order.paid", "order.refunded"],
      logger,
      metrics: options.metrics,
      ...(options.maxEventAttempts ? { maxAttempts: options.maxEventAttempts } : {}),
    });
  }

  start(): void {
    this.relay.start();
    for (const loop of this.loops) loop.start();
    this.consumer.start();
  }

  /** Order events not yet handled (tests wait for it to drain). */
  lag(): Promise<number> {
    return this.consumer.lag();
  }

  /** Stops taking work, finishes what is in hand, and publishes what it recorded. */
  async stop(): Promise<void> {
    await this.consumer.stop();
    await Promise.all(this.loops.map((loop) => loop.stop()));
    await this.relay.stop();
  }
}
