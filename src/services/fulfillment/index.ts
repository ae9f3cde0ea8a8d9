import { fileURLToPath } from "node:url";
import type { ServiceModule } from "../service-module.js";
import { FULFILLMENT_OPERATIONS, type FulfillmentApi } from "./api.js";

export const fulfillmentService: ServiceModule<FulfillmentApi> = {
  name: "fulfillment",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: FULFILLMENT_OPERATIONS,
  async start() {
    return { api: {}, routes: () => {}, stop: async () => {} };
  },
};
