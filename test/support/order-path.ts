import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBroadcast } from "../../src/platform/broadcast/local-broadcast.js";
import { openBroadcast } from "../../src/platform/broadcast/open-broadcast.js";
import { loadConfig } from "../../src/platform/config/load-config.js";
import type { Database } from "../../src/platform/db/database.js";
import { runMigrations } from "../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../src/platform/db/pglite-database.js";
import { createShardRouter } from "../../src/platform/db/shard-router.js";
import { AppError } from "../../src/platform/errors/catalogue.js";
import { SnowflakeGenerator } from "../../src/platform/ids/snowflake.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";
import { openReservationBook } from "../../src/platform/reservations/open-reservation-book.js";
import type { ReservationBook } from "../../src/platform/reservations/reservation-book.js";
import type { CatalogApi, Product } from "../../src/services/catalog/api.js";
import type { InventoryApi } from "../../src/services/inventory/api.js";
import { inventoryService } from "../../src/services/inventory/index.js";
import type { OrdersApi } from "../../src/services/orders/api.js";
import { ordersService } from "../../src/services/orders/index.js";
import { OrderIntake, type PlaceOrder } from "../../src/services/orders/intake.js";
import { ORDER_REQUESTS_TOPIC } from "../../src/services/orders/order-request.js";
import { OrderWriter } from "../../src/services/orders/order-writer.js";
import { SoldOutFlags } from "../../src/services/orders/sold-out-flags.js";
import type { RunningService, ServiceClients, ServiceContext } from "../../src/services/service-module.js";
import { ScriptedStream } from "./scripted-stream.js";

/** How a call from an intake to the inventory goes wrong: not sent, or applied with its answer lost. */
export type CallFault = "fail" | "applied-then-fail";

/** What a buyer heard: 202 with an order id, or an error code (with its details). */
export type Answer =
  | { readonly status: 202; readonly orderId: string }
  | { readonly status: number; readonly code: string; readonly details?: Readonly<Record<string, string>> };

export interface OrderPath {
  readonly db: Database;
  readonly book: ReservationBook;
  readonly stream: ScriptedStream;
  readonly inventory: InventoryApi;
  /**
   * An intake process of its own (its own in-flight map and sold-out flags), same inventory.
   * `deaf`: it hears no stock news (as when pub/sub loses its messages).
   */
  intake(options?: { deaf?: boolean }): Intake;
  openSale(sku: string, stock: number, perUserLimit: number): Promise<void>;
  /** Runs an order worker until the queue is empty. */
  drain(): Promise<void>;
  /** Orders in the database: id → status. */
  stored(): Promise<Map<string, string>>;
  close(): Promise<void>;
}

export interface Intake {
  /** Faults for this intake's next calls to the inventory, by operation, in order. */
  readonly faults: Map<string, CallFault[]>;
  place(order: Omit<PlaceOrder, "idempotencyKey"> & { idempotencyKey?: string | undefined }): Promise<Answer>;
}

const PRODUCT: Omit<Product, "sku"> = {
  id: "1",
  name: "Test product",
  priceCents: 1999,
  currency: "EUR",
  version: 1,
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
};

/**
 * The real inventory service, intakes and order worker wired in one process around a scripted
 * stream and inventory clients that fail on demand: the order path with every interleaving and
 * fault under the test's control. The database is an in-memory PGlite; the book is memory, or
 * Redis when `stockUrl` is given.
 */
export async function startOrderPath(
  options: { stockUrl?: string; stockPrefix?: string; reservationTtlSeconds?: number } = {},
): Promise<OrderPath> {
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-order-path-"));
  const db = await openPgliteDatabase({ name: "order-path" });
  await runMigrations(db, "inventory", inventoryService.migrationsDir);
  await runMigrations(db, "orders", ordersService.migrationsDir);
  // An intake-only orders service: its API (the backlog) is real; the test runs its own workers.
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      logLevel: "silent",
      seedDemo: "false",
      ordersRole: "intake",
      reservationTtlSeconds: String(options.reservationTtlSeconds ?? 900),
    },
  });
  const logger = createLogger("silent");
  const metrics = new Metrics();
  const databases = createShardRouter([db]);
  const book = await openReservationBook(options.stockUrl, { prefix: options.stockPrefix ?? "" });
  const broadcast = await openBroadcast(undefined, { prefix: "test" });
  const stream = new ScriptedStream();
  const group = stream.group(ORDER_REQUESTS_TOPIC, "order-writers", {
    visibilityTimeoutMs: 60_000,
    maxAttempts: 20,
  });
  const skus = new Set<string>();
  const catalog: CatalogApi = {
    productBySku: async ({ sku }) => (skus.has(sku) ? { ...PRODUCT, sku } : null),
    productById: async () => null,
  };
  let inventoryApi: InventoryApi | undefined;
  let ordersApi: OrdersApi | undefined;
  const clients = {
    catalog,
    get inventory() {
      return inventoryApi!;
    },
    sales: {},
    get orders() {
      return ordersApi!;
    },
  } as unknown as ServiceClients;
  const context = {
    config,
    logger,
    metrics,
    databases,
    stream,
    reservations: book,
    broadcast,
    ids: new SnowflakeGenerator(63),
    clients,
  } as unknown as ServiceContext;
  const inventory = (await inventoryService.start(context)) as RunningService<InventoryApi>;
  inventoryApi = inventory.api;
  const orders = (await ordersService.start(context)) as RunningService<OrdersApi>;
  ordersApi = orders.api;
  let workerIds = 0;

  return {
    db,
    book,
    stream,
    inventory: inventory.api,
    intake({ deaf = false } = {}) {
      const faults = new Map<string, CallFault[]>();
      const intake = new OrderIntake({
        clients: { ...clients, catalog, inventory: withFaults(inventory.api, faults) },
        stream,
        ids: new SnowflakeGenerator(++workerIds),
        logger,
        metrics: new Metrics(),
        soldOut: new SoldOutFlags(deaf ? new LocalBroadcast() : broadcast),
        reservationTtlMs: config.reservationTtlSeconds * 1000,
      });
      return {
        faults,
        async place(order) {
          try {
            return {
              status: 202,
              orderId: await intake.place({ ...order, idempotencyKey: order.idempotencyKey }),
            };
          } catch (error) {
            if (!(error instanceof AppError)) throw error;
            const details = (error as { details?: Readonly<Record<string, string>> }).details;
            return { status: error.status, code: error.code, ...(details ? { details } : {}) };
          }
        },
      };
    },
    async openSale(sku, stock, perUserLimit) {
      skus.add(sku);
      await inventory.api.defineStock({
        sku,
        stock,
        perUserLimit,
        startsAt: new Date(Date.now() - 3_600_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
    },
    async drain() {
      const writer = new OrderWriter({
        group,
        databases,
        inventory: inventory.api,
        logger,
        metrics: new Metrics(),
        batchSize: 50,
        writeRate: 0,
      });
      writer.start();
      const deadline = Date.now() + 20_000;
      while ((await group.lag()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await writer.stop();
      if ((await group.lag()) > 0) throw new Error("the order worker did not drain the queue");
    },
    async stored() {
      const rows = await db.query<{ id: string; status: string }>(
        "SELECT id::text AS id, status FROM orders.orders",
      );
      return new Map(rows.map((row) => [row.id, row.status]));
    },
    async close() {
      await orders.stop();
      await inventory.stop();
      await book.close();
      await broadcast.close();
      await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The inventory as an intake reaches it, with the faults the test planned for its next calls. */
function withFaults(api: InventoryApi, faults: Map<string, CallFault[]>): InventoryApi {
  return new Proxy(api, {
    get(target, operation: string) {
      const call = (target as unknown as Record<string, (input: unknown) => Promise<unknown>>)[operation];
      if (typeof call !== "function") return call;
      return async (input: unknown) => {
        const fault = faults.get(operation)?.shift();
        if (fault === "fail")
          throw new AppError("dependency_failed", `inventory.${operation} failed (scripted)`);
        const result = await call.call(target, input);
        if (fault === "applied-then-fail") {
          throw new AppError("dependency_timeout", `inventory.${operation} answered too late (scripted)`);
        }
        return result;
      };
    },
  });
}
