/** The orders service's contract with other services. */
export interface OrdersApi {
  /** Accepted orders not yet stored (the order stream's lag for the writers' group). */
  backlog(input?: undefined): Promise<{ pending: number }>;
}

export const ORDERS_OPERATIONS = ["backlog"] as const satisfies readonly (keyof OrdersApi)[];
