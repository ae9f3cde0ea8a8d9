import { fileURLToPath } from "node:url";
import { openCarrier } from "../../platform/carrier/open-carrier.js";
import type { ServiceModule } from "../service-module.js";
import { FULFILLMENT_OPERATIONS, type FulfillmentApi } from "./api.js";
import { Fulfillment } from "./fulfillment.js";

export const fulfillmentService: ServiceModule<FulfillmentApi> = {
  name: "fulfillment",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: FULFILLMENT_OPERATIONS,
  async start(context) {
    const logger = context.logger.child({ service: "fulfillment" });
    const db = context.databases.primary;
    // The carrier is chosen here rather than handed in with the other ports: ServiceContext has
    // no carrier yet (moving this into src/runtime/ is a change to the shared runtime).
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
};
