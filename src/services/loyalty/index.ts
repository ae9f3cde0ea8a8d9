import { fileURLToPath } from "node:url";
import type { ServiceModule } from "../service-module.js";
import { LOYALTY_OPERATIONS, type LoyaltyApi } from "./api.js";

export const loyaltyService: ServiceModule<LoyaltyApi> = {
  name: "loyalty",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: LOYALTY_OPERATIONS,
  async start() {
    return { api: {}, routes: () => {}, stop: async () => {} };
  },
};
