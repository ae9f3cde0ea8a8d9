/** The orders service's contract with other services. Nothing calls it yet: others learn of orders through events. */
export type OrdersApi = Record<string, never>;

export const ORDERS_OPERATIONS = [] as const satisfies readonly (keyof OrdersApi)[];
