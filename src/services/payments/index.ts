import { fileURLToPath } from "node:url";
import type { ServiceModule } from "../service-module.js";
import { PAYMENTS_OPERATIONS, type PaymentsApi } from "./api.js";

export const paymentsService: ServiceModule<PaymentsApi> = {
  name: "payments",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: PAYMENTS_OPERATIONS,
  async start() {
    return { api: {}, routes: () => {}, stop: async () => {} };
  },
};
