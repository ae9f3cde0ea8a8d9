import { type Config, ConfigError } from "../platform/config/load-config.js";
import { SERVICE_NAMES, type ServiceName } from "../platform/config/settings.js";
import { queueSchemeOf } from "./platform.js";

/**
 * Settings that parse each on its own but cannot work together. Checked before anything opens, so
 * the process stops with a message naming them (exit code 2, like any configuration error)
 * instead of starting and quietly losing work.
 */
export function checkStartupSettings(config: Config): void {
  refuseSplitOrderRolesOnAPrivateQueue(config);
  refuseSplitEventServicesOnAPrivateQueue(config);
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
