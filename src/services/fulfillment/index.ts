import { fileURLToPath } from "node:url";
import type { Carrier } from "../../platform/carrier/carrier.js";
import type { Database } from "../../platform/db/database.js";
import type { ServiceModule } from "../service-module.js";
import { FULFILLMENT_OPERATIONS, type FulfillmentApi } from "./api.js";
import { Fulfillment } from "./fulfillment.js";

/** Opens the Carrier adapter the configuration names (the runtime's choice, not the service's). */
export type CarrierFactory = (options: {
  readonly deliverySeconds: number;
  readonly database: Database;
  readonly log: (message: string) => void;
}) => Promise<Carrier>;

export const createFulfillmentService = (openCarrier: CarrierFactory): ServiceModule<FulfillmentApi> => ({
  name: "fulfillment",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: FULFILLMENT_OPERATIONS,
  async start(context) {
    const logger = context.logger.child({ service: "fulfillment" });
    const db = context.databases.primary;
    const carrier = await openCarrier({
      deliverySeconds: context.config.carrierDeliverySeconds,
      database: db,
      log: (message) => logger.info({ component: "carrier" }, message),
    });
    const fulfillment = new Fulfillment({
      db,
      stream: context.stream,
      carrier,
      logger,
      metrics: context.metrics,
    });
    fulfillment.start();
    return {
      api: {},
      routes: () => {},
      stop: async () => {
        await fulfillment.stop();
        await carrier.close();
      },
    };
  },
});
