/**
 * Every setting Floodgate reads, with its default and documentation. Each is an environment
 * variable `FLOODGATE_<NAME>` and may also be given in a JSON config file (see load-config.ts)
 * under its camelCase key. docs/configuration.md is generated from this table; a test keeps the
 * two in step.
 */
import { parseSetting, type SettingType } from "./setting-types.js";

export interface SettingSpec {
  readonly type: SettingType;
  /** The default as the user would write it; undefined means "unset" (see the doc). */
  readonly default?: string;
  readonly doc: string;
}

export const SERVICE_NAMES = [
  "catalog",
  "inventory",
  "sales",
  "orders",
  "payments",
  "fulfillment",
  "notifications",
  "loyalty",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const SETTINGS = {
  port: { type: { kind: "int", min: 0, max: 65535 }, default: "8080", doc: "Port of the public HTTP API." },
  host: {
    type: { kind: "string" },
    default: "127.0.0.1",
    doc: "Address the HTTP server binds to. Use 0.0.0.0 in containers.",
  },
  env: {
    type: { kind: "enum", values: ["development", "production"] },
    doc: "development or production. Unset: production whenever a server URL is configured (FLOODGATE_DATABASE_URLS, _QUEUE_URL, _CACHE_URL, _STOCK_URL, _BROADCAST_URL, _SMTP_URL or _PAYMENT_PROVIDER_URL), else development. Production refuses to start without FLOODGATE_AUTH_SECRET, seeds nothing, prints no token, and serves /internal/* only on FLOODGATE_INTERNAL_PORT.",
  },
  internalPort: {
    type: { kind: "int", min: 0, max: 65535 },
    doc: "Port of the internal API (/internal/*: service-to-service calls, service token required), bound to FLOODGATE_INTERNAL_HOST. Unset: in development, internal routes are served on the public port; in production they are served nowhere, and a process hosting only some services refuses to start without it.",
  },
  internalHost: {
    type: { kind: "string" },
    default: "127.0.0.1",
    doc: "Address the internal API binds to: an address other services reach and clients do not (a private network; 0.0.0.0 in a container behind a network policy).",
  },
  dataDir: {
    type: { kind: "string" },
    default: "./.floodgate",
    doc: "Where the embedded mode keeps its files: the queue log, PGlite databases, the generated auth secret.",
  },
  authSecret: {
    type: { kind: "string", minLength: 32 },
    doc: "HS256 secret for bearer tokens (at least 32 characters). Unset: generated once and kept in the data dir.",
  },
  authPreviousSecret: {
    type: { kind: "string", minLength: 32 },
    doc: "During a secret rotation, the secret tokens were signed with before FLOODGATE_AUTH_SECRET: still accepted (each token names its key) until they expire, at most their TTL after the switch. Unset once no token signed with it can be alive.",
  },
  databaseUrls: {
    type: { kind: "url-list", schemes: ["postgres", "postgresql"] },
    doc: "Comma-separated postgres:// URLs, one per physical shard; the first also holds the non-sharded schemas. Unset: embedded PGlite.",
  },
  embeddedShards: {
    type: { kind: "int", min: 1, max: 64 },
    default: "1",
    doc: "Physical PGlite shards in embedded mode (ignored when FLOODGATE_DATABASE_URLS is set).",
  },
  cacheUrl: {
    type: { kind: "url", schemes: ["memory", "redis", "redis-cluster", "memcached", "none"] },
    doc: "Shared cache (L2) behind the in-process one: redis://h:p, redis-cluster://h:p,h:p,… or memcached://h:p[,h:p]. Unset or memory://: in-process only. none://: caching off (a benchmark baseline).",
  },
  cachePrefix: {
    type: { kind: "string" },
    default: "floodgate:",
    doc: "Prefix of every key and channel Floodgate uses on the shared cache, so deployments can share a server.",
  },
  cacheWarmTop: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "1000",
    doc: "Products loaded into the cache at start (most recently updated first); 0 skips the warm-up.",
  },
  queueUrl: {
    type: { kind: "url", schemes: ["embedded", "nats", "redis"] },
    doc: "Queue adapter: nats://h:p (NATS JetStream; run the server with sync_interval: always, see docs/operations.md) or redis://h:p (Redis Streams; appendonly yes, appendfsync always). Unset or embedded://: the durable log in the data dir.",
  },
  queuePrefix: {
    type: { kind: "string", pattern: "^[a-z][a-z0-9_-]{0,31}$" },
    default: "floodgate",
    doc: "Names Floodgate's streams on a shared broker (JetStream streams PREFIX_<topic>, subjects prefix.<topic>; Redis keys prefix:stream:<topic>).",
  },
  stockUrl: {
    type: { kind: "url", schemes: ["memory", "redis", "redis-cluster"] },
    doc: "Where the inventory keeps live stock and reservations (one Lua script per reservation): redis://h:p or redis-cluster://h:p,h:p,… (run Redis with appendonly yes, appendfsync always, and no eviction: see docs/operations.md). Shared by any number of inventory processes. Unset or memory://: the inventory process's memory (then one inventory process per database).",
  },
  stockPrefix: {
    type: { kind: "string" },
    default: "floodgate:",
    doc: "Prefix of every key Floodgate writes on the stock Redis.",
  },
  broadcastUrl: {
    type: { kind: "url", schemes: ["memory", "redis", "redis-cluster", "nats"] },
    doc: "Pub/sub that tells every intake process at once that a SKU sold out (or is back): redis://, redis-cluster:// or nats://. Unset: the stock Redis if FLOODGATE_STOCK_URL is set, else the queue's server if it is NATS or Redis, else this process only.",
  },
  services: {
    type: { kind: "enum-list", values: SERVICE_NAMES },
    default: SERVICE_NAMES.join(","),
    doc: "Services this process hosts. `floodgate service <name>` sets it to one name.",
  },
  serviceUrls: {
    type: { kind: "map", valueKind: "http-url" },
    doc: "Where services not hosted in this process listen, as name=http://host:port pairs separated by commas. A service may list several instances separated by | (orders=http://a:8081|http://b:8081); callers and the gateway balance over them, and a host name that resolves to several addresses (a Kubernetes headless Service) counts as one instance per address.",
  },
  internalServiceUrls: {
    type: { kind: "map", valueKind: "http-url" },
    doc: "Where other services' internal APIs are, for a service whose internal port differs from this process's FLOODGATE_INTERNAL_PORT (several processes on one host), in the form of FLOODGATE_SERVICE_URLS. Unset for a service: its FLOODGATE_SERVICE_URLS hosts, on FLOODGATE_INTERNAL_PORT when that is set, else on the port given there.",
  },
  shutdownDrainMs: {
    type: { kind: "int", min: 0, max: 120_000 },
    default: "0",
    doc: "On SIGTERM, how long the process keeps serving with /readyz answering 503 before it stops taking requests, so load balancers (the gateway's health checks, Kubernetes endpoints) stop sending it new ones first. Give it more than FLOODGATE_GATEWAY_HEALTH_INTERVAL_MS where a gateway or Service sits in front.",
  },
  otlpUrl: {
    type: { kind: "url", schemes: ["http", "https"] },
    doc: "OpenTelemetry collector (OTLP over HTTP, e.g. http://otel-collector:4318; traces go to <url>/v1/traces unless the URL has a path). Unset: tracing is off and costs nothing.",
  },
  traceSamplePercent: {
    type: { kind: "int", min: 0, max: 100 },
    default: "1",
    doc: "Percentage of new traces recorded when FLOODGATE_OTLP_URL is set; a request that arrives with a sampled traceparent is always recorded.",
  },
  gatewayUserRate: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "5",
    doc: "Gateway: requests per second each signed-in user may make (token bucket, bursts up to FLOODGATE_GATEWAY_USER_BURST); beyond it 429 rate_limited with Retry-After. 0 turns the per-user limit off.",
  },
  gatewayUserBurst: {
    type: { kind: "int", min: 1, max: 1_000_000 },
    default: "10",
    doc: "Gateway: requests a signed-in user may make at once before FLOODGATE_GATEWAY_USER_RATE applies.",
  },
  gatewayIpRate: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "50",
    doc: "Gateway: requests per second from one client IP address (signed in or not); 0 turns the per-IP limit off.",
  },
  gatewayIpBurst: {
    type: { kind: "int", min: 1, max: 1_000_000 },
    default: "100",
    doc: "Gateway: requests one client IP address may make at once before FLOODGATE_GATEWAY_IP_RATE applies.",
  },
  orderUserRate: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "10",
    doc: "Order intake: POST /orders per second each signed-in user may send (token bucket, bursts up to FLOODGATE_ORDER_USER_BURST), checked by the orders service itself, with or without the gateway; beyond it 429 rate_limited with Retry-After. 0 turns it off.",
  },
  orderUserBurst: {
    type: { kind: "int", min: 1, max: 1_000_000 },
    default: "20",
    doc: "Order intake: POST /orders one user may send at once before FLOODGATE_ORDER_USER_RATE applies.",
  },
  orderIpRate: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "0",
    doc: "Order intake: POST /orders per second from one client address. Off (0) by default: behind the gateway or a load balancer every request comes from the same few addresses (the gateway limits per client address itself); set it when the intake takes clients directly.",
  },
  orderIpBurst: {
    type: { kind: "int", min: 1, max: 1_000_000 },
    default: "100",
    doc: "Order intake: POST /orders one client address may send at once before FLOODGATE_ORDER_IP_RATE applies.",
  },
  rateLimitUrl: {
    type: { kind: "url", schemes: ["memory", "redis", "redis-cluster"] },
    doc: "Order intake: where its rate-limit buckets live, so every intake process counts the same requests: redis:// or redis-cluster://, or memory:// for each process on its own. Unset: the Redis of FLOODGATE_CACHE_URL, else memory (not the stock's Redis, which fsyncs every write for the reservation book).",
  },
  gatewayRateLimitUrl: {
    type: { kind: "url", schemes: ["memory", "redis", "redis-cluster"] },
    doc: "Gateway: where rate-limit buckets live, so every gateway instance counts the same requests: redis:// or redis-cluster://. Unset: the Redis of FLOODGATE_CACHE_URL, else of FLOODGATE_STOCK_URL, else each gateway's memory.",
  },
  gatewayUpstreamTimeoutMs: {
    type: { kind: "int", min: 100, max: 600_000 },
    default: "10000",
    doc: "Gateway: how long it waits for a service's answer before 504 upstream_timeout.",
  },
  gatewayHealthIntervalMs: {
    type: { kind: "int", min: 100, max: 60_000 },
    default: "1000",
    doc: "Gateway: how often it asks every service instance's /readyz; instances that do not answer 200 get no requests until they do.",
  },
  gatewayGetRetries: {
    type: { kind: "int", min: 0, max: 5 },
    default: "1",
    doc: "Gateway: further attempts, each on another instance, for a GET whose instance failed or answered 502/503/504. Other methods are retried only when the instance provably did not take the request (refused the connection, or was draining).",
  },
  gatewayBreakerFailures: {
    type: { kind: "int", min: 1, max: 1000 },
    default: "5",
    doc: "Gateway: consecutive failures (connection errors, timeouts, 5xx) after which an instance's circuit breaker opens and it gets no requests for FLOODGATE_GATEWAY_BREAKER_OPEN_MS.",
  },
  gatewayBreakerOpenMs: {
    type: { kind: "int", min: 100, max: 600_000 },
    default: "5000",
    doc: "Gateway: how long an open circuit breaker keeps an instance out before one trial request.",
  },
  workerId: {
    type: { kind: "int", min: 0, max: 63 },
    doc: "Snowflake worker id of this process; two live processes with the same one can mint the same id. Unset (recommended): leased at start from what every process of a deployment shares — the primary database if FLOODGATE_DATABASE_URLS is set, else the Redis of FLOODGATE_STOCK_URL, else that of FLOODGATE_CACHE_URL, else the data dir — renewed every 5 s and released at shutdown; a process that cannot renew it stops minting ids (503 with Retry-After) after 15 s, and a crashed process's id is free after 20 s. Set: no lease; give every process its own.",
  },
  logLevel: {
    type: { kind: "enum", values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] },
    default: "info",
    doc: "Minimum level of the JSON logs on stdout.",
  },
  bodyLimitBytes: {
    type: { kind: "int", min: 1024, max: 10_485_760 },
    default: "16384",
    doc: "Largest request body accepted; larger ones get 413 payload_too_large.",
  },
  httpHeadersTimeoutMs: {
    type: { kind: "int", min: 100, max: 600_000 },
    default: "10000",
    doc: "How long a client may take to send a request's line and headers before 408 request_timeout and a closed connection (slow-header clients hold a socket each).",
  },
  httpRequestTimeoutMs: {
    type: { kind: "int", min: 100, max: 3_600_000 },
    default: "30000",
    doc: "How long a client may take to send a whole request, body included, before 408 request_timeout and a closed connection.",
  },
  httpKeepAliveTimeoutMs: {
    type: { kind: "int", min: 100, max: 600_000 },
    default: "72000",
    doc: "How long an idle keep-alive connection stays open (Fastify's default). Behind a load balancer it must stay above the balancer's idle timeout (60 s on most), so the server never closes a connection the balancer is about to reuse.",
  },
  httpMaxConnections: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "10000",
    doc: "Open connections a listener accepts at once; beyond it new ones are closed as they arrive (keep it below the process's open-file limit). 0: no limit.",
  },
  ordersRole: {
    type: { kind: "enum", values: ["all", "intake", "worker"] },
    default: "all",
    doc: "What an orders process does: intake (answers POST /orders and appends to the queue), worker (drains the queue into the database), or all. Run them as separate processes to scale each alone.",
  },
  orderRedeliverySeconds: {
    type: { kind: "int", min: 5, max: 3600 },
    default: "30",
    doc: "An order message a worker took but neither stored nor gave back (the worker died) is delivered again after this long.",
  },
  orderBatchSize: {
    type: { kind: "int", min: 1, max: 5000 },
    default: "500",
    doc: "Orders an order worker takes from the queue and inserts in one transaction; with FLOODGATE_ORDER_WRITE_RATE set, at most a tenth of a second's worth of that rate, so writes are paced evenly.",
  },
  orderWriteRate: {
    type: { kind: "int", min: 0, max: 1_000_000 },
    default: "0",
    doc: "Ceiling on orders written to the database per second (token bucket); 0 means no ceiling.",
  },
  reservationTtlSeconds: {
    type: { kind: "int", min: 5, max: 86_400 },
    default: "900",
    doc: "A stock reservation that no stored order confirms within this time is released.",
  },
  reconcileIntervalSeconds: {
    type: { kind: "int", min: 1, max: 86_400 },
    default: "10",
    doc: "How often the inventory compares its live stock with the database of record and reports drift (low-priority work).",
  },
  lowPriorityMaxLag: {
    type: { kind: "int", min: 0, max: 100_000_000 },
    default: "100",
    doc: "Low-priority work (reconciliation) is deferred while the orders queue holds more messages than this, leaving the database to the order workers during a burst.",
  },
  shutdownTimeoutMs: {
    type: { kind: "int", min: 0, max: 600_000 },
    default: "10000",
    doc: "How long a graceful shutdown waits for in-flight requests and batches before giving up.",
  },
  paymentTimeoutSeconds: {
    type: { kind: "int", min: 5, max: 2_592_000 },
    default: "900",
    doc: "An order still unpaid this long after it was stored is cancelled: its stock goes back on sale and its buyer gets an email. A payment that arrives later is refunded.",
  },
  paymentProviderUrl: {
    type: { kind: "url", schemes: ["http", "https"] },
    doc: "The payment provider's API (the PaymentProvider adapter for it). Unset: the bundled simulator, which `floodgate start` runs alongside (see `floodgate payment-simulator`).",
  },
  paymentWebhookSecret: {
    type: { kind: "string", minLength: 32 },
    doc: "The secret the payment provider signs its notifications with (HMAC-SHA256 over `timestamp.body`). Unset: generated once and kept in the data dir, and shared with the bundled simulator.",
  },
  publicUrl: {
    type: { kind: "url", schemes: ["http", "https"] },
    doc: "The URL clients and the payment provider reach Floodgate at (for webhook and checkout addresses). Unset: http://<host>:<port> of this process.",
  },
  smtpUrl: {
    type: { kind: "url", schemes: ["smtp", "smtps"] },
    doc: "Where notification emails are sent (smtp://user:pass@host:port). Unset: each message is kept as an .eml file in the data dir and listed at GET /admin/mail.",
  },
  mailFrom: {
    type: { kind: "string" },
    default: "Floodgate <orders@floodgate.invalid>",
    doc: "The From address of notification emails.",
  },
  carrierDeliverySeconds: {
    type: { kind: "int", min: 0, max: 2_592_000 },
    default: "10",
    doc: "How long the bundled carrier simulator takes to deliver a shipment after taking it.",
  },
  loyaltyPointsPerCurrencyUnit: {
    type: { kind: "int", min: 0, max: 10_000 },
    default: "1",
    doc: "Loyalty points awarded per whole unit of currency (100 cents) of a completed order.",
  },
  seedDemo: {
    type: { kind: "boolean" },
    default: "true",
    doc: "On `floodgate start` with an empty catalog, create demo products and an open flash sale.",
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

export function envNameOf(key: string): string {
  return `FLOODGATE_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

export { parseSetting };
