import { virtualShardForKey } from "../../platform/db/shard-router.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { SnowflakeGenerator } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { Stream } from "../../platform/queue/stream.js";
import { userKey } from "../../platform/reservations/reservation-book.js";
import type { Product } from "../catalog/api.js";
import type { ServiceClients } from "../service-module.js";
import { encodeOrderRequest, ORDER_REQUESTS_TOPIC, type OrderRequest } from "./order-request.js";
import type { SoldOutFlags } from "./sold-out-flags.js";

export interface PlaceOrder {
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly idempotencyKey: string | undefined;
}

/**
 * The flash-sale intake: reserve stock, append the order to the durable stream, and only then
 * accept. Nothing is accepted that is not durable: if the append fails the reservation is
 * released and the client is told to retry (503).
 */
export class OrderIntake {
  /** Requests in progress by user and key, so a concurrent duplicate waits for the first's outcome. */
  private readonly inFlight = new Map<string, { sku: string; quantity: number; result: Promise<string> }>();
  private readonly outcomes;

  constructor(
    private readonly deps: {
      readonly clients: ServiceClients;
      readonly stream: Stream;
      readonly ids: SnowflakeGenerator;
      readonly logger: Logger;
      readonly metrics: Metrics;
      readonly soldOut: SoldOutFlags;
    },
  ) {
    this.outcomes = deps.metrics.counter("orders_intake_total", "Order requests by outcome.", ["outcome"]);
  }

  /** Resolves to the order id once the order is durable; throws an AppError otherwise. */
  async place(order: PlaceOrder): Promise<string> {
    const key = order.idempotencyKey === undefined ? undefined : userKey(order.userId, order.idempotencyKey);
    if (this.deps.soldOut.refuses(order.sku, key)) {
      this.outcomes.inc({ outcome: "sold_out_flag" });
      throw AppError.refusal("sold_out");
    }
    if (key === undefined) return this.placeOnce(order, undefined);
    const running = this.inFlight.get(key);
    if (running) {
      if (running.sku !== order.sku || running.quantity !== order.quantity) {
        throw new AppError("idempotency_key_reused");
      }
      return running.result;
    }
    const result = this.placeOnce(order, order.idempotencyKey).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, { sku: order.sku, quantity: order.quantity, result });
    return result;
  }

  private async placeOnce(order: PlaceOrder, idempotencyKey: string | undefined): Promise<string> {
    const { clients, stream, ids } = this.deps;
    // Reserve first: most requests in a flash sale are refused, and a refusal needs nothing else.
    // The product (for the price) is looked up only for an order that will be written.
    const orderId = ids.next(virtualShardForKey(order.userId));
    const result = await clients.inventory
      .reserve({
        orderId,
        sku: order.sku,
        userId: order.userId,
        quantity: order.quantity,
        idempotencyKey: idempotencyKey ?? `auto:${orderId}`,
      })
      .catch((error: unknown) => {
        // An inventory that cannot be reached or answers late: nothing was accepted, retry.
        if (
          error instanceof AppError &&
          (error.code === "dependency_failed" || error.code === "dependency_timeout")
        ) {
          this.outcomes.inc({ outcome: "not_accepted" });
          throw new AppError("not_accepted", undefined, 1);
        }
        throw error;
      });
    if (result.outcome === "reserved") {
      // Also how a lost "back on sale" message is made up for: the re-check that got through learns it.
      this.deps.soldOut.learn({ sku: order.sku, available: result.available, version: result.version });
    }
    if (result.outcome === "refused") {
      this.outcomes.inc({ outcome: result.reason });
      switch (result.reason) {
        case "sold_out":
          if (result.available === 0 && result.version !== undefined) {
            this.deps.soldOut.learn({ sku: order.sku, available: 0, version: result.version });
          }
          throw AppError.refusal(
            "sold_out",
            result.available > 0 ? `Only ${result.available} left; fewer than asked for.` : undefined,
          );
        case "limit_exceeded":
          throw AppError.refusal("limit_exceeded");
        case "sale_not_open":
          throw AppError.refusal("sale_not_open");
        case "no_sale":
          if (!(await clients.catalog.productBySku({ sku: order.sku }))) {
            throw AppError.refusal("unknown_sku", `No product has SKU "${order.sku}".`);
          }
          throw AppError.refusal("sale_not_open");
      }
    }
    if (result.outcome === "duplicate") {
      if (result.sku !== order.sku || result.quantity !== order.quantity) {
        this.outcomes.inc({ outcome: "idempotency_key_reused" });
        throw AppError.refusal("idempotency_key_reused");
      }
      this.outcomes.inc({ outcome: "replayed" });
      if (!result.stored) {
        const product = await this.productFor(order.sku);
        // The first attempt may have died between reserving and appending, so the order may not
        // be in the stream: append it again. The worker stores an order id once, however often
        // it arrives. If this append fails the reservation stays: the first one may have landed.
        const again = this.requestFor(result.orderId, order, product, idempotencyKey!, result.reservedAt);
        try {
          await stream.append(ORDER_REQUESTS_TOPIC, encodeOrderRequest(again), { dedupId: result.orderId });
        } catch (error) {
          this.deps.logger.error(
            { err: error, orderId: result.orderId },
            "re-appending a replayed order failed",
          );
          throw new AppError("not_accepted", undefined, 1);
        }
      }
      return result.orderId;
    }

    let product: Product;
    try {
      product = await this.productFor(order.sku);
    } catch (error) {
      await clients.inventory
        .release({ reservations: [{ orderId, sku: order.sku }], reason: "not_accepted" })
        .catch(() => {});
      throw error;
    }
    const request = this.requestFor(
      orderId,
      order,
      product,
      idempotencyKey ?? `auto:${orderId}`,
      new Date().toISOString(),
    );
    try {
      await stream.append(ORDER_REQUESTS_TOPIC, encodeOrderRequest(request), { dedupId: orderId });
    } catch (error) {
      this.deps.logger.error({ err: error, orderId }, "durable append failed; releasing the reservation");
      if (await this.releaseUnlessStored(orderId, order.sku)) {
        this.outcomes.inc({ outcome: "accepted_after_append_error" });
        return orderId;
      }
      this.outcomes.inc({ outcome: "not_accepted" });
      throw new AppError("not_accepted", undefined, 1);
    }
    this.outcomes.inc({ outcome: "accepted" });
    return orderId;
  }

  /**
   * After an append that reported failure: the message may have landed anyway, and a worker may
   * already have confirmed its reservation, in which case the order is stored and the buyer must
   * hear 202. Otherwise the reservation is released (as `not_accepted`, so a worker that meets the
   * message later drops it). If the release cannot be made now, the reservation stays and expires.
   * Returns true when the order turned out to be accepted.
   */
  private async releaseUnlessStored(orderId: string, sku: string): Promise<boolean> {
    const inventory = this.deps.clients.inventory;
    try {
      const { released } = await inventory.release({
        reservations: [{ orderId, sku }],
        reason: "not_accepted",
      });
      if (released.includes(orderId)) return false;
      return (await inventory.reservation({ orderId }))?.status === "confirmed";
    } catch {
      return false;
    }
  }

  /** The product an order is priced from; its sale exists, so the product does too. */
  private async productFor(sku: string): Promise<Product> {
    const product = await this.deps.clients.catalog.productBySku({ sku });
    if (!product) throw new AppError("dependency_failed", `The catalog has no product for SKU "${sku}".`);
    return product;
  }

  private requestFor(
    orderId: string,
    order: PlaceOrder,
    product: { priceCents: number; currency: string },
    idempotencyKey: string,
    acceptedAt: string,
  ): OrderRequest {
    return {
      orderId,
      userId: order.userId,
      sku: order.sku,
      quantity: order.quantity,
      priceCents: product.priceCents,
      currency: product.currency,
      idempotencyKey,
      acceptedAt,
    };
  }
}
