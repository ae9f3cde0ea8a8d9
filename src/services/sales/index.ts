import { fileURLToPath } from "node:url";
import type { ServiceModule } from "../service-module.js";
import { SALES_OPERATIONS, type SalesApi } from "./api.js";
import { registerSalesRoutes } from "./routes.js";
import { SaleStore } from "./sale-store.js";

export const salesService: ServiceModule<SalesApi> = {
  name: "sales",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: SALES_OPERATIONS,
  async start(context) {
    const store = new SaleStore(context.databases.primary);
    return {
      api: { saleBySku: async ({ sku }) => (await store.bySku(sku)) ?? null },
      routes: (app) => registerSalesRoutes(app, { store, clients: context.clients, tokens: context.tokens }),
      stop: async () => {},
    };
  },
};
