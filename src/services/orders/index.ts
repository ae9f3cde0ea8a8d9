import { fileURLToPath } from "node:url";
import { registerQueueMetrics } from "../../platform/queue/queue-metrics.js";
import type { ConsumerGroup, Stream } from "../../platform/queue/stream.js";
import type { ServiceModule } from "../service-module.js";
import { ORDERS_OPERATIONS, type OrderBacklog, type OrdersApi } from "./api.js";
import { OrderIntake } from "./intake.js";
import { OrderQueries } from "./order-queries.js";
import { decodeOrderRequest, ORDER_REQUESTS_TOPIC } from "./order-request.js";
import { OrderWriter } from "./order-writer.js";
import { registerOrderRoutes } from "./routes.js";
import { SoldOutFlags } from "./sold-out-flags.js";

export const ORDER_WRITERS_GROUP = "order-writers";

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
    const intake = new OrderIntake({ clients, stream, ids: context.ids, logger, metrics, soldOut });
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
    });
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
    return {
      api: { backlog: () => orderBacklog(stream, group) },
      routes: (app) => {
        if (role !== "worker") registerOrderRoutes(app, { intake, queries, tokens: context.tokens });
      },
      stop: async () => {
        await writer.stop();
        await group.close();
      },
    };
  },
};
