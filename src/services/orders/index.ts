import { fileURLToPath } from "node:url";
import type { DomainEvent } from "../../platform/events/domain-event.js";
import { EventConsumer } from "../../platform/events/event-consumer.js";
import { OutboxRelay } from "../../platform/events/outbox.js";
import { shardOfSnowflake } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import { registerQueueMetrics } from "../../platform/queue/queue-metrics.js";
import type { ConsumerGroup, Stream } from "../../platform/queue/stream.js";
import { FULFILLMENT_EVENTS_TOPIC } from "../fulfillment/fulfillment-events.js";
import { PAYMENT_EVENTS_TOPIC } from "../payments/payment-events.js";
import type { ServiceContext, ServiceModule } from "../service-module.js";
import { ORDERS_OPERATIONS, type OrderBacklog, type OrdersApi } from "./api.js";
import { OrderIntake } from "./intake.js";
import { OrderDoor } from "./order-door.js";
import { OrderLifecycleHandlers } from "./order-lifecycle-handlers.js";
import { OrderQueries } from "./order-queries.js";
import { decodeOrderRequest, ORDER_REQUESTS_TOPIC } from "./order-request.js";
import { OrderWriter } from "./order-writer.js";
import { PaymentDeadlines } from "./payment-deadlines.js";
import { registerOrderRoutes } from "./routes.js";
import { SoldOutFlags } from "./sold-out-flags.js";

export const ORDER_WRITERS_GROUP = "order-writers";

const DEADLINE_SWEEP_MS = 1000;

/**
 * The order's life after intake, in this process: outbox relays (one per shard), the consumers
 * of payment and shipment events, and the payment-deadline sweep.
 */
function startLifecycle(context: ServiceContext, logger: Logger): { stop(): Promise<void> } {
  const { stream, databases, metrics } = context;
  const relays = databases.all().map((db) => new OutboxRelay({ db, schema: "orders", stream, logger }));
  const handlers = new OrderLifecycleHandlers(logger, metrics);
  const shardOf = (event: DomainEvent) => {
    const shard = shardOfSnowflake(String(event.data.orderId ?? ""));
    // An event naming no valid order goes to the first shard, where its handler refuses it.
    return databases.forVirtualShard(shard ?? 0);
  };
  const consumers = [
    new EventConsumer({
      stream,
      topic: PAYMENT_EVENTS_TOPIC,
      group: "orders.on-payments",
      database: shardOf,
      schema: "orders",
      handle: (event, tx, afterCommit) => handlers.onPayment(event, tx, afterCommit),
      types: OrderLifecycleHandlers.PAYMENT_TYPES,
      logger,
      metrics,
    }),
    new EventConsumer({
      stream,
      topic: FULFILLMENT_EVENTS_TOPIC,
      group: "orders.on-fulfillment",
      database: shardOf,
      schema: "orders",
      handle: (event, tx, afterCommit) => handlers.onShipment(event, tx, afterCommit),
      types: OrderLifecycleHandlers.SHIPMENT_TYPES,
      logger,
      metrics,
    }),
  ];
  const deadlines = new PaymentDeadlines(databases, logger, metrics);
  let sweeping: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    sweeping ??= deadlines
      .sweep()
      .catch((error: unknown) => logger.error({ err: error }, "cancelling overdue orders failed"))
      .finally(() => {
        sweeping = undefined;
      });
  }, DEADLINE_SWEEP_MS);
  timer.unref();
  for (const relay of relays) relay.start();
  for (const consumer of consumers) consumer.start();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
      await Promise.all(consumers.map((consumer) => consumer.stop()));
      await Promise.all(relays.map((relay) => relay.stop()));
    },
  };
}

/** Dead letters listed for the backlog; beyond this many, every order counts as possibly among them. */
const DEAD_LETTERS_LISTED = 1000;

async function orderBacklog(stream: Stream, group: ConsumerGroup): Promise<OrderBacklog> {
  const [pending, stats] = await Promise.all([group.lag(), stream.stats(ORDER_REQUESTS_TOPIC)]);
  if (stats.deadLetters === 0) return { pending, deadLettered: { orderIds: [], complete: true } };
  const letters = await stream.deadLetters(ORDER_REQUESTS_TOPIC, { limit: DEAD_LETTERS_LISTED });
  const orderIds = letters.flatMap((letter) => {
    const request = decodeOrderRequest(letter.data);
    return request ? [request.orderId] : [];
  });
  return { pending, deadLettered: { orderIds, complete: letters.length < DEAD_LETTERS_LISTED } };
}

export const ordersService: ServiceModule<OrdersApi> = {
  name: "orders",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: true,
  operations: ORDERS_OPERATIONS,
  async start(context) {
    const { clients, stream, config, metrics } = context;
    const logger = context.logger.child({ service: "orders" });
    const role = config.ordersRole;
    const soldOut = new SoldOutFlags(context.broadcast);
    const intake = new OrderIntake({
      clients,
      stream,
      ids: context.ids,
      logger,
      metrics,
      soldOut,
      reservationTtlMs: config.reservationTtlSeconds * 1000,
    });
    const queries = new OrderQueries(context.databases, clients.inventory);
    const group = stream.group(ORDER_REQUESTS_TOPIC, ORDER_WRITERS_GROUP, {
      visibilityTimeoutMs: config.orderRedeliverySeconds * 1000,
      // Attempts are counted only for messages that fail on their own (see OrderWriter), so this
      // is about poison messages, not outages.
      maxAttempts: 20,
    });
    const writer = new OrderWriter({
      group,
      databases: context.databases,
      inventory: clients.inventory,
      logger,
      metrics,
      batchSize: config.orderBatchSize,
      writeRate: config.orderWriteRate,
      paymentTimeoutSeconds: config.paymentTimeoutSeconds,
    });
    // After intake: the order follows its payment and its shipment, and is cancelled if unpaid in
    // time. Every shard has its own outbox and relay; consumers route each event to its order's shard.
    const lifecycle = role === "intake" ? undefined : startLifecycle(context, logger);
    // Depth (queue_lag_messages), in flight, redelivered and dead letters of the order queue, read
    // at scrape time; and the ceiling the dashboard draws the write rate against.
    registerQueueMetrics(metrics, stream, [{ topic: ORDER_REQUESTS_TOPIC, group: ORDER_WRITERS_GROUP }]);
    metrics
      .gauge(
        "orders_write_rate_ceiling",
        "Configured ceiling on orders written per second (FLOODGATE_ORDER_WRITE_RATE); 0 means none.",
      )
      .set(config.orderWriteRate);
    // An intake-only process answers buyers and appends; a worker-only one drains the queue. Each
    // scales on its own: intakes with the request rate, workers up to what the database takes.
    if (role !== "intake") writer.start();
    logger.info({ role }, "orders role");
    const api: OrdersApi = {
      backlog: () => orderBacklog(stream, group),
      async orderForPayment({ orderId }) {
        const order = await queries.byId(orderId);
        if (!order) return null;
        return {
          orderId: order.id,
          userId: order.userId,
          status: order.status,
          amountCents: (order.priceCents ?? 0) * order.quantity,
          currency: order.currency ?? "",
          paymentDueAt: order.paymentDueAt,
        };
      },
    };
    const door = new OrderDoor(
      context.rateLimiter,
      {
        user:
          config.orderUserRate > 0
            ? { ratePerSecond: config.orderUserRate, burst: config.orderUserBurst }
            : undefined,
        ip:
          config.orderIpRate > 0
            ? { ratePerSecond: config.orderIpRate, burst: config.orderIpBurst }
            : undefined,
      },
      context.metrics.counter("orders_rate_limited_total", "Order requests refused with 429, by limit.", [
        "scope",
      ]),
    );
    return {
      api,
      routes: (app) => {
        if (role !== "worker")
          registerOrderRoutes(app, {
            intake,
            door,
            queries,
            tokens: context.tokens,
            databases: context.databases,
          });
      },
      stop: async () => {
        await lifecycle?.stop();
        await writer.stop();
        await group.close();
      },
    };
  },
};
