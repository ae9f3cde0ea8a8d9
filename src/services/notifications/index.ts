import { fileURLToPath } from "node:url";
import type { ServiceModule } from "../service-module.js";
import { NOTIFICATIONS_OPERATIONS, type NotificationsApi } from "./api.js";

export const notificationsService: ServiceModule<NotificationsApi> = {
  name: "notifications",
  migrationsDir: fileURLToPath(new URL("./migrations", import.meta.url)),
  sharded: false,
  operations: NOTIFICATIONS_OPERATIONS,
  async start() {
    return { api: {}, routes: () => {}, stop: async () => {} };
  },
};
