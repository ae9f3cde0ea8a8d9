import type { Database } from "../../platform/db/database.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { SnowflakeGenerator } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import {
  type PaymentProvider,
  ProviderRejectedError,
  ProviderUnavailableError,
} from "../../platform/payments/payment-provider.js";
import type { OrdersApi } from "../orders/api.js";
import type { PaymentMetrics } from "./payment-metrics.js";
import { type Payment, PaymentStore } from "./payment-store.js";

export interface CheckoutDeps {
  readonly db: Database;
  readonly orders: OrdersApi;
  readonly provider: PaymentProvider;
  readonly ids: SnowflakeGenerator;
  readonly logger: Logger;
  readonly metrics: PaymentMetrics;
}

export interface OpenedPayment {
  readonly paymentId: string;
  readonly redirectUrl: string;
}

/** Where the provider and the buyer come back to this Floodgate. */
export interface CheckoutUrls {
  readonly notifyUrl: string;
  readonly returnUrl: string;
}

/**
 * `POST /orders/:id/payment`: opens a payment for the buyer's `created` order at the provider, or
 * returns the one already open. The row comes first, the provider call second: a crash or a
 * failed call in between leaves an open row without a checkout link, and the next request
 * completes it with the same payment id, which the provider is idempotent on. So retries, and
 * concurrent requests, all end with one payment.
 */
export class PaymentCheckout {
  constructor(private readonly deps: CheckoutDeps) {}

  async open(
    orderId: string,
    userId: string,
    urls: CheckoutUrls,
  ): Promise<OpenedPayment & { created: boolean }> {
    const { db, orders, ids } = this.deps;
    const order = await orders.orderForPayment({ orderId });
    // Someone else's order is reported as missing, like GET /orders/:id: ids must not leak existence.
    if (!order || order.userId !== userId) throw new AppError("order_not_found");
    if (order.status !== "created") {
      throw new AppError(
        "order_not_payable",
        order.status === "pending"
          ? "The order is accepted but not stored yet; retry in a moment."
          : `The order is ${order.status}; only a created order can be paid.`,
        undefined,
        { status: order.status },
      );
    }
    let payment = await PaymentStore.openForOrder(db, orderId);
    let created = false;
    if (!payment) {
      payment = await PaymentStore.insertOpen(db, {
        id: ids.next(0),
        orderId,
        userId,
        amountCents: order.amountCents,
        currency: order.currency,
      });
      created = payment !== undefined;
      // Another request opened one between our read and our insert: that one it is.
      payment ??= await PaymentStore.openForOrder(db, orderId);
      if (!payment) throw new AppError("unavailable", "The order's payment changed meanwhile; retry.", 1);
    }
    if (payment.providerPaymentId && payment.redirectUrl) {
      return { paymentId: payment.id, redirectUrl: payment.redirectUrl, created: false };
    }
    const opened = await this.openAtProvider(payment, urls);
    if (created) this.deps.metrics.payment("opened");
    return { ...opened, created };
  }

  private async openAtProvider(payment: Payment, urls: CheckoutUrls): Promise<OpenedPayment> {
    let provider: { providerPaymentId: string; redirectUrl: string };
    try {
      provider = await this.deps.provider.createPayment({
        paymentId: payment.id,
        orderId: payment.orderId,
        amountCents: payment.amountCents,
        currency: payment.currency,
        notifyUrl: urls.notifyUrl,
        returnUrl: urls.returnUrl,
      });
    } catch (error) {
      this.deps.logger.warn(
        { err: error, paymentId: payment.id },
        "opening a payment at the provider failed",
      );
      if (error instanceof ProviderUnavailableError)
        throw new AppError("payment_provider_unavailable", undefined, 1);
      if (error instanceof ProviderRejectedError) {
        throw new AppError("dependency_failed", `The payment provider refused the payment: ${error.message}`);
      }
      throw error;
    }
    await PaymentStore.attachProvider(this.deps.db, payment.id, provider);
    return { paymentId: payment.id, redirectUrl: provider.redirectUrl };
  }
}
