import type { FastifyInstance } from "fastify";
import type { TokenService } from "../platform/auth/tokens.js";
import type { Broadcast } from "../platform/broadcast/broadcast.js";
import type { Caching } from "../platform/cache/caching.js";
import type { Config } from "../platform/config/load-config.js";
import type { ServiceName } from "../platform/config/settings.js";
import type { ShardRouter } from "../platform/db/shard-router.js";
import type { SnowflakeGenerator } from "../platform/ids/snowflake.js";
import type { Logger } from "../platform/observability/logger.js";
import type { Metrics } from "../platform/observability/metrics.js";
import type { Stream } from "../platform/queue/stream.js";
import type { RateLimiter } from "../platform/ratelimit/rate-limiter.js";
import type { ReservationBook } from "../platform/reservations/reservation-book.js";
import type { CatalogApi } from "./catalog/api.js";
import type { FulfillmentApi } from "./fulfillment/api.js";
import type { InventoryApi } from "./inventory/api.js";
import type { LoyaltyApi } from "./loyalty/api.js";
import type { NotificationsApi } from "./notifications/api.js";
import type { OrdersApi } from "./orders/api.js";
import type { PaymentsApi } from "./payments/api.js";
import type { SalesApi } from "./sales/api.js";

/** The clients a service may use to reach the others; transport (in-process or HTTP) is hidden. */
export interface ServiceClients {
  readonly catalog: CatalogApi;
  readonly inventory: InventoryApi;
  readonly sales: SalesApi;
  readonly orders: OrdersApi;
  readonly payments: PaymentsApi;
  readonly fulfillment: FulfillmentApi;
  readonly notifications: NotificationsApi;
  readonly loyalty: LoyaltyApi;
}

/** What the runtime hands each service: ports, never adapters. */
export interface ServiceContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly databases: ShardRouter;
  readonly stream: Stream;
  readonly caching: Caching;
  /** Live stock and reservations (the inventory's). */
  readonly reservations: ReservationBook;
  /** Token buckets for limits at the door (the order intake's), shared through Redis when configured. */
  readonly rateLimiter: RateLimiter;
  /** Best-effort pub/sub between processes. */
  readonly broadcast: Broadcast;
  readonly ids: SnowflakeGenerator;
  readonly tokens: TokenService;
  readonly clients: ServiceClients;
}

export interface RunningService<Api extends object = object> {
  /** Internal operations other services call through their client. */
  readonly api: Api;
  /** Registers the public HTTP routes this service answers. */
  routes(app: FastifyInstance): void;
  /** Stops background work after the current batch; the runtime closes ports afterwards. */
  stop(): Promise<void>;
}

export interface ServiceModule<Api extends object = object> {
  readonly name: ServiceName;
  /** Folder of this service's `NNN_name.sql` migrations. */
  readonly migrationsDir: string;
  /** Sharded schemas are migrated on every physical shard; others only on the primary. */
  readonly sharded: boolean;
  /** Names of the operations in `api` that other processes may call over HTTP. */
  readonly operations: readonly string[];
  start(context: ServiceContext): Promise<RunningService<Api>>;
}
