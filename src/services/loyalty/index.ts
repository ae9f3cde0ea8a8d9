import { fileURLToPath } from "node:url";
import { EventConsumer } from "../../platform/events/event-consumer.js";
import { ORDER_EVENTS_TOPIC } from "../orders/order-events.js";
import type { ServiceModule } from "../service-module.js";
import { LOYALTY_OPERATIONS, type LoyaltyApi } from "./api.js";
import { LOYALTY_ORDER_TYPES, LoyaltyHandlers } from "./loyalty-handlers.js";
import { registerPointsRoutes } from "./points-routes.js";

/**
 * The points ledger (`loyalty.points_entries`): one consumer of order events awards points when
 * an order completes and takes them back when it is refunded; `GET /me/points` shows them. The
 * service publishes no events.
 */
export const loyaltyService: ServiceModule<LoyaltyApi> = {
  name: "loyalty",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: LOYALTY_OPERATIONS,
  async start(context) {
    const { config, stream, metrics } = context;
    const logger = context.logger.child({ service: "loyalty" });
    const db = context.databases.primary;
    const handlers = new LoyaltyHandlers({
      ids: context.ids,
      pointsPerCurrencyUnit: config.loyaltyPointsPerCurrencyUnit,
      logger,
      metrics,
    });
    const consumer = new EventConsumer({
      stream,
      topic: ORDER_EVENTS_TOPIC,
      group: "loyalty.on-orders",
      database: () => db,
      schema: "loyalty",
      handle: (event, tx, afterCommit) => handlers.onOrderEvent(event, tx, afterCommit),
      types: LOYALTY_ORDER_TYPES,
      logger,
      metrics,
    });
    consumer.start();
    return {
      api: {},
      routes: (app) => registerPointsRoutes(app, { db, tokens: context.tokens }),
      stop: () => consumer.stop(),
    };
  },
};
