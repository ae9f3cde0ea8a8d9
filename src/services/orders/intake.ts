import { virtualShardForKey } from "../../platform/db/shard-router.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { SnowflakeGenerator } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { Stream } from "../../platform/queue/stream.js";
import { userKey } from "../../platform/reservations/reservation-book.js";
import type { Product } from "../catalog/api.js";
import type { ReserveResult } from "../inventory/api.js";
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
 * accept. Nothing is accepted that is not durable. If the append fails, the inventory settles the
 * reservation once, for every intake: rejected (503 `not_accepted`, and a worker that meets the
 * message anyway drops it) or accepted after all. When no answer can be had, the client is told
 * exactly that (503 `outcome_unknown`): a retry with the same key learns the outcome.
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
      /**
       * The inventory's reservation lifetime (FLOODGATE_RESERVATION_TTL_SECONDS). An append that
       * ends later than half of it after the reservation may have landed after the sweeper took
       * the reservation for an abandoned one: such an order is settled before it is answered.
       */
      readonly reservationTtlMs: number;
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
    const { clients } = this.deps;
    // Reserve first: most requests in a flash sale are refused, and a refusal needs nothing else.
    // The product (for the price) is looked up only for an order that will be written.
    const orderId = this.deps.ids.next(virtualShardForKey(order.userId));
    const key = idempotencyKey ?? `auto:${orderId}`;
    // Before the reserve: the reservation's own time is later, so this bounds how old it is.
    const started = performance.now();
    const result = await clients.inventory
      .reserve({
        orderId,
        sku: order.sku,
        userId: order.userId,
        quantity: order.quantity,
        idempotencyKey: key,
      })
      .catch((error: unknown) => {
        // An inventory that cannot be reached or answers late: if it reserved anyway, the
        // reservation has no order in the queue and expires; only a retry with the same key could
        // append one. Nothing was accepted.
        if (
          error instanceof AppError &&
          (error.code === "dependency_failed" || error.code === "dependency_timeout")
        ) {
          this.outcomes.inc({ outcome: "not_accepted" });
          throw new AppError("not_accepted", undefined, 1);
        }
        throw error;
      });
    switch (result.outcome) {
      case "refused":
        return this.refuse(order, result);
      case "duplicate":
        return this.replay(order, key, result);
      case "reserved": {
        // Also how a lost "back on sale" message is made up for: the re-check that got through learns it.
        this.deps.soldOut.learn({ sku: order.sku, available: result.available, version: result.version });
        const ref = { orderId, sku: order.sku };
        let product: Product;
        try {
          product = await this.productFor(order.sku);
        } catch (error) {
          // Nothing was appended; but another intake may have appended it for a replay already.
          if ((await this.settle(ref, "reject")) === "accepted") return this.accepted(orderId, "accepted");
          throw error;
        }
        const request = this.requestFor(orderId, order, product, key, new Date().toISOString());
        if (await this.append(request)) {
          if (performance.now() - started <= this.deps.reservationTtlMs / 2)
            return this.accepted(orderId, "accepted");
          // A slow append: the sweeper releases an expired reservation while the queue is empty,
          // and this order's message may have arrived only after it looked. The row decides.
          switch (await this.settle(ref, "accept")) {
            case "accepted":
              return this.accepted(orderId, "accepted");
            case "rejected":
              // Released: a worker that meets the message drops it.
              this.outcomes.inc({ outcome: "not_accepted" });
              throw new AppError("not_accepted", undefined, 1);
            case "unknown":
              throw this.outcomeUnknown(orderId);
          }
        }
        // The append failed, but the message may have landed anyway: the reservation's row decides,
        // once, whether this order stands (a worker stored it, or a replay's intake answered 202
        // for it) or is rejected, in which case a worker that meets the message drops it.
        switch (await this.settle(ref, "reject")) {
          case "accepted":
            return this.accepted(orderId, "accepted_after_append_error");
          case "rejected":
            this.outcomes.inc({ outcome: "not_accepted" });
            throw new AppError("not_accepted", undefined, 1);
          case "unknown":
            throw this.outcomeUnknown(orderId);
        }
      }
    }
  }

  /**
   * A request whose key already names an order: answered with that order's real state. An
   * undecided one (its intake may have died before appending) is appended again, then settled as
   * accepted before answering 202; the worker stores an order id once, however often it arrives.
   */
  private async replay(
    order: PlaceOrder,
    key: string,
    first: Extract<ReserveResult, { outcome: "duplicate" }>,
  ): Promise<string> {
    if (first.sku !== order.sku || first.quantity !== order.quantity) {
      this.outcomes.inc({ outcome: "idempotency_key_reused" });
      throw AppError.refusal("idempotency_key_reused");
    }
    this.outcomes.inc({ outcome: "replayed" });
    if (first.state === "accepted") return first.orderId;
    // Being released: most likely as not accepted, but the row may yet prove it stored.
    if (first.state === "releasing") throw this.outcomeUnknown(first.orderId);
    const product = await this.productFor(order.sku);
    const again = this.requestFor(first.orderId, order, product, key, first.reservedAt);
    // If this append fails the order's fate is still open: its first append may have landed.
    if (!(await this.append(again))) throw this.outcomeUnknown(first.orderId);
    switch (await this.settle({ orderId: first.orderId, sku: order.sku }, "accept")) {
      case "accepted":
        return first.orderId;
      case "rejected":
        // Its first intake answered 503 first: the order will never be stored, the key is free.
        throw new AppError("not_accepted", undefined, 1);
      case "unknown":
        throw this.outcomeUnknown(first.orderId);
    }
  }

  private async refuse(
    order: PlaceOrder,
    result: Extract<ReserveResult, { outcome: "refused" }>,
  ): Promise<never> {
    this.outcomes.inc({ outcome: result.reason });
    // Every answer tells what is available, refusals too: a re-check refused for its own quantity
    // or its user's limit must still clear a stale sold-out flag.
    if (result.version !== undefined) {
      this.deps.soldOut.learn({ sku: order.sku, available: result.available, version: result.version });
    }
    switch (result.reason) {
      case "sold_out":
        throw AppError.refusal(
          "sold_out",
          result.available > 0 ? `Only ${result.available} left; fewer than asked for.` : undefined,
        );
      case "limit_exceeded":
        throw AppError.refusal("limit_exceeded");
      case "sale_not_open":
        throw AppError.refusal("sale_not_open");
      case "no_sale":
        if (!(await this.deps.clients.catalog.productBySku({ sku: order.sku }))) {
          throw AppError.refusal("unknown_sku", `No product has SKU "${order.sku}".`);
        }
        throw AppError.refusal("sale_not_open");
    }
  }

  /** True once the order request is durable; false when the append failed (it may have landed). */
  private async append(request: OrderRequest): Promise<boolean> {
    try {
      await this.deps.stream.append(ORDER_REQUESTS_TOPIC, encodeOrderRequest(request), {
        dedupId: request.orderId,
      });
      return true;
    } catch (error) {
      this.deps.logger.error({ err: error, orderId: request.orderId }, "durable append failed");
      return false;
    }
  }

  /** The inventory's decision on a reservation; "unknown" when it could not be asked. */
  private async settle(
    ref: { orderId: string; sku: string },
    decision: "accept" | "reject",
  ): Promise<"accepted" | "rejected" | "unknown"> {
    try {
      return (await this.deps.clients.inventory.settle({ ...ref, decision })).outcome;
    } catch (error) {
      this.deps.logger.error({ err: error, orderId: ref.orderId, decision }, "settling a reservation failed");
      return "unknown";
    }
  }

  private accepted(orderId: string, outcome: "accepted" | "accepted_after_append_error"): string {
    this.outcomes.inc({ outcome });
    return orderId;
  }

  /** The order may or may not stand, and nothing here can tell now: say so, and how to find out. */
  private outcomeUnknown(orderId: string): AppError {
    this.outcomes.inc({ outcome: "outcome_unknown" });
    return new AppError(
      "outcome_unknown",
      `Order ${orderId} may or may not have been accepted. Retry with the same Idempotency-Key to learn which, or look at GET /orders/${orderId}.`,
      1,
      { orderId },
    );
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
