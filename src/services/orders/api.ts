/** The orders service's contract with other services. */
export interface OrdersApi {
  /**
   * Accepted orders not yet stored: the order stream's lag for the writers' group (waiting, in
   * flight, or waiting to be redelivered), and the orders whose messages are in its dead letters
   * (they wait for an operator to replay them; their reservations must not go back on sale).
   */
  backlog(input?: undefined): Promise<OrderBacklog>;
  /** What the payments service needs to take a payment for an order; null for an unknown one. */
  orderForPayment(input: { orderId: string }): Promise<PayableOrder | null>;
}

export interface PayableOrder {
  readonly orderId: string;
  readonly userId: string;
  /** Only a `created` order can be paid. */
  readonly status: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly paymentDueAt: string | null;
}

export interface OrderBacklog {
  readonly pending: number;
  readonly deadLettered: {
    /** Order ids in the dead letters, up to a bound. */
    readonly orderIds: readonly string[];
    /** False when there are more dead letters than listed: treat every order as possibly among them. */
    readonly complete: boolean;
  };
}

export const ORDERS_OPERATIONS = [
  "backlog",
  "orderForPayment",
] as const satisfies readonly (keyof OrdersApi)[];
