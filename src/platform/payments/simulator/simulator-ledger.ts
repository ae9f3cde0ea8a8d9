import { randomBytes } from "node:crypto";
import type {
  CreatePaymentBody,
  PaymentView,
  ProviderEvent,
  ProviderEventType,
  RefundBody,
  RefundView,
} from "./simulator-wire.js";

/** A refusal the simulator answers with this status and `{"error":{"code","message"}}`. */
export class SimulatorError extends Error {
  override readonly name = "SimulatorError";

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface PaymentRecord extends Omit<PaymentView, "refunds" | "redirectUrl"> {}

export interface LedgerSnapshot {
  readonly payments: readonly PaymentRecord[];
  readonly refunds: readonly RefundView[];
}

function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

/**
 * The simulated provider's books: payments, their settlement, and refunds, with the idempotency a
 * real provider gives (one payment per payment id, one refund per idempotency key). Every change
 * returns the notification it causes; sending it is someone else's job.
 */
export class SimulatorLedger {
  private readonly payments = new Map<string, PaymentRecord>();
  private readonly paymentByReference = new Map<string, string>();
  private readonly refunds = new Map<string, RefundView>();
  private readonly refundsByPayment = new Map<string, RefundView[]>();

  constructor(private readonly checkoutUrlOf: (providerPaymentId: string) => string) {}

  static restore(snapshot: LedgerSnapshot, checkoutUrlOf: (id: string) => string): SimulatorLedger {
    const ledger = new SimulatorLedger(checkoutUrlOf);
    for (const payment of snapshot.payments) {
      ledger.payments.set(payment.providerPaymentId, payment);
      ledger.paymentByReference.set(payment.paymentId, payment.providerPaymentId);
    }
    for (const refund of snapshot.refunds) ledger.addRefund(refund);
    return ledger;
  }

  snapshot(): LedgerSnapshot {
    return { payments: [...this.payments.values()], refunds: [...this.refunds.values()] };
  }

  /** Opens a payment, or returns the one already opened for `body.paymentId`. */
  create(body: CreatePaymentBody): { payment: PaymentView; created: boolean } {
    const existing = this.paymentByReference.get(body.paymentId);
    if (existing) {
      const payment = this.payments.get(existing)!;
      if (
        payment.amountCents !== body.amountCents ||
        payment.currency !== body.currency ||
        payment.orderId !== body.orderId
      ) {
        throw new SimulatorError(
          422,
          "idempotency_key_reused",
          `Payment ${body.paymentId} was already created with another order, amount or currency.`,
        );
      }
      return { payment: this.view(payment), created: false };
    }
    const payment: PaymentRecord = {
      providerPaymentId: randomId("sim_pay"),
      paymentId: body.paymentId,
      orderId: body.orderId,
      amountCents: body.amountCents,
      currency: body.currency,
      status: "requires_payment",
      paidCents: null,
      notifyUrl: body.notifyUrl,
      returnUrl: body.returnUrl,
      createdAt: new Date().toISOString(),
    };
    this.payments.set(payment.providerPaymentId, payment);
    this.paymentByReference.set(payment.paymentId, payment.providerPaymentId);
    return { payment: this.view(payment), created: true };
  }

  get(providerPaymentId: string): PaymentView {
    return this.view(this.record(providerPaymentId));
  }

  all(): PaymentView[] {
    return [...this.payments.values()].map((payment) => this.view(payment));
  }

  /**
   * The buyer pays (by default the amount asked). A declined payment may still be paid, as a buyer
   * may try another card; a paid one is final.
   */
  confirm(providerPaymentId: string, amountCents?: number): { payment: PaymentView; event: ProviderEvent } {
    const payment = this.record(providerPaymentId);
    if (payment.status !== "requires_payment" && payment.status !== "declined") {
      throw new SimulatorError(409, "payment_settled", `The payment is ${payment.status} already.`);
    }
    const paid = { ...payment, status: "succeeded" as const, paidCents: amountCents ?? payment.amountCents };
    this.payments.set(providerPaymentId, paid);
    return {
      payment: this.view(paid),
      event: this.event("payment.succeeded", paid, { amountCents: paid.paidCents }),
    };
  }

  decline(providerPaymentId: string, reason: string): { payment: PaymentView; event: ProviderEvent } {
    const payment = this.record(providerPaymentId);
    if (payment.status !== "requires_payment" && payment.status !== "declined") {
      throw new SimulatorError(409, "payment_settled", `The payment is ${payment.status} already.`);
    }
    const declined = { ...payment, status: "declined" as const };
    this.payments.set(providerPaymentId, declined);
    return { payment: this.view(declined), event: this.event("payment.declined", declined, { reason }) };
  }

  /** Refunds once per idempotency key: the same key answers the refund already made, and no event. */
  refund(body: RefundBody, idempotencyKey: string): { refund: RefundView; event?: ProviderEvent } {
    const existing = this.refunds.get(idempotencyKey);
    if (existing) {
      if (
        existing.providerPaymentId !== body.providerPaymentId ||
        existing.amountCents !== body.amountCents
      ) {
        throw new SimulatorError(
          422,
          "idempotency_key_reused",
          `Idempotency key ${idempotencyKey} was already used for another refund.`,
        );
      }
      return { refund: existing };
    }
    const payment = this.record(body.providerPaymentId);
    if (payment.status !== "succeeded") {
      throw new SimulatorError(
        409,
        "not_refundable",
        `The payment is ${payment.status}; only a paid one can be refunded.`,
      );
    }
    const refunded = this.refundsOf(payment.providerPaymentId).reduce((sum, r) => sum + r.amountCents, 0);
    const left = (payment.paidCents ?? 0) - refunded;
    if (body.amountCents > left) {
      throw new SimulatorError(409, "refund_exceeds_payment", `Only ${left} cents are left to refund.`);
    }
    const refund: RefundView = {
      providerRefundId: randomId("sim_re"),
      providerPaymentId: payment.providerPaymentId,
      amountCents: body.amountCents,
      currency: payment.currency,
      idempotencyKey,
      status: "succeeded",
      createdAt: new Date().toISOString(),
    };
    this.addRefund(refund);
    if (body.amountCents === left)
      this.payments.set(payment.providerPaymentId, { ...payment, status: "refunded" });
    return {
      refund,
      event: this.event("refund.succeeded", payment, {
        amountCents: body.amountCents,
        providerRefundId: refund.providerRefundId,
      }),
    };
  }

  private record(providerPaymentId: string): PaymentRecord {
    const payment = this.payments.get(providerPaymentId);
    if (!payment) throw new SimulatorError(404, "payment_not_found", `No payment ${providerPaymentId}.`);
    return payment;
  }

  private addRefund(refund: RefundView): void {
    this.refunds.set(refund.idempotencyKey, refund);
    const ofPayment = this.refundsByPayment.get(refund.providerPaymentId) ?? [];
    ofPayment.push(refund);
    this.refundsByPayment.set(refund.providerPaymentId, ofPayment);
  }

  private refundsOf(providerPaymentId: string): readonly RefundView[] {
    return this.refundsByPayment.get(providerPaymentId) ?? [];
  }

  private view(payment: PaymentRecord): PaymentView {
    return {
      ...payment,
      redirectUrl: this.checkoutUrlOf(payment.providerPaymentId),
      refunds: [...this.refundsOf(payment.providerPaymentId)],
    };
  }

  private event(
    type: ProviderEventType,
    payment: PaymentRecord,
    extra: Partial<ProviderEvent["data"]>,
  ): ProviderEvent {
    return {
      id: randomId("evt"),
      type,
      created: Math.floor(Date.now() / 1000),
      data: {
        providerPaymentId: payment.providerPaymentId,
        paymentId: payment.paymentId,
        orderId: payment.orderId,
        amountCents: payment.amountCents,
        currency: payment.currency,
        ...extra,
      },
    };
  }
}
