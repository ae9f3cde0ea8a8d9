import { type Config, ConfigError } from "../platform/config/load-config.js";
import { SERVICE_NAMES, type ServiceName } from "../platform/config/settings.js";
import { queueSchemeOf } from "./platform.js";

/**
 * Settings that parse each on its own but cannot work together. Checked before anything opens, so
 * the process stops with a message naming them (exit code 2, like any configuration error)
 * instead of starting and quietly losing work.
 */
export function checkStartupSettings(config: Config): void {
  refuseProductionWithoutItsSettings(config);
  refuseSplitOrderRolesOnAPrivateQueue(config);
  refuseSplitEventServicesOnAPrivateQueue(config);
}

/**
 * Production (FLOODGATE_ENV, or implied by any server URL) never runs on a generated secret, and a
 * process other services must call has somewhere private to be called on.
 */
function refuseProductionWithoutItsSettings(config: Config): void {
  if (config.env !== "production") return;
  if (!config.authSecret) {
    throw new ConfigError(
      "FLOODGATE_ENV is production (set, or implied by a server URL) and FLOODGATE_AUTH_SECRET is unset: " +
        "production never signs tokens with a secret generated into the data dir. Set FLOODGATE_AUTH_SECRET " +
        "(at least 32 characters, e.g. `openssl rand -base64 48`), the same on every process; or set " +
        "FLOODGATE_ENV=development to run without one.",
    );
  }
  if (config.services.includes("payments") && config.paymentProviderUrl === undefined) {
    throw new ConfigError(
      "FLOODGATE_ENV is production and this process hosts payments without FLOODGATE_PAYMENT_PROVIDER_URL: " +
        "production never takes payments from the built-in simulator, which approves them all. Set the " +
        "provider's URL (for a staging run, a `floodgate payment-simulator` of its own), or leave payments " +
        "out of FLOODGATE_SERVICES.",
    );
  }
  const hostsAll = SERVICE_NAMES.every((name) => config.services.includes(name));
  if (!hostsAll && config.internalPort === undefined) {
    throw new ConfigError(
      `FLOODGATE_SERVICES=${config.services.join(",")} runs apart from other services, which call it on its ` +
        "internal API, and in production that API is served only on FLOODGATE_INTERNAL_PORT (never on the public " +
        "port). Set FLOODGATE_INTERNAL_PORT (and FLOODGATE_INTERNAL_HOST to an address the other services reach), " +
        "and point FLOODGATE_SERVICE_URLS at it.",
    );
  }
}

/** Services that publish or consume events: they meet other services on the queue. */
const EVENT_SERVICES: readonly ServiceName[] = [
  "inventory",
  "orders",
  "payments",
  "fulfillment",
  "notifications",
  "loyalty",
];

/**
 * Services in different processes hear each other's events (an order paid, cancelled, shipped)
 * only on a queue they share. On the embedded log, which only this process reads, a payment would
 * never make its order paid, and a cancellation would never give its stock back.
 */
function refuseSplitEventServicesOnAPrivateQueue(config: Config): void {
  if (SERVICE_NAMES.every((name) => config.services.includes(name))) return;
  if (queueSchemeOf(config) !== "embedded") return;
  const here = config.services.filter((name) => EVENT_SERVICES.includes(name));
  if (here.length === 0) return;
  throw new ConfigError(
    `FLOODGATE_SERVICES=${config.services.join(",")} runs ${here.join(", ")} apart from the other services, ` +
      "which meet it only through their events on a shared queue, but FLOODGATE_QUEUE_URL is unset: the queue " +
      "would be the embedded log in this process's data dir, which no other process reads, so events such as " +
      "an order paid or cancelled would never arrive. Set FLOODGATE_QUEUE_URL to a shared broker (nats://… or " +
      "redis://…) on every process, or run every service in one process (`floodgate start`).",
  );
}

/**
 * An intake and a worker in different processes meet only on a queue both reach. The embedded log
 * lives in one process's data dir and no other process reads it, so an intake's orders (answered
 * 202) would never be stored, and a worker would wait forever.
 */
function refuseSplitOrderRolesOnAPrivateQueue(config: Config): void {
  if (!config.services.includes("orders") || config.ordersRole === "all") return;
  if (queueSchemeOf(config) !== "embedded") return;
  const queue = config.queueUrl ? `FLOODGATE_QUEUE_URL=${config.queueUrl}` : "FLOODGATE_QUEUE_URL is unset";
  const consequence =
    config.ordersRole === "intake"
      ? "the orders it accepts would never reach a worker and never be stored"
      : "it would never see an order an intake accepted";
  throw new ConfigError(
    `FLOODGATE_ORDERS_ROLE=${config.ordersRole} needs a queue that the intake and worker processes share, ` +
      `but ${queue}: the queue would be the embedded log in this process's own data dir, which no other ` +
      `process reads, so ${consequence}. Set FLOODGATE_QUEUE_URL to a shared broker (nats://… or redis://…) ` +
      "on every orders process, or leave FLOODGATE_ORDERS_ROLE at all to run intake and worker in one process.",
  );
}
