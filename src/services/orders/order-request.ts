/**
 * The message intake appends to the `orders.requested` stream once stock is reserved. It is the
 * durable record of an accepted order until a worker has stored it.
 */
export const ORDER_REQUESTS_TOPIC = "orders.requested";

export interface OrderRequest {
  readonly orderId: string;
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly priceCents: number;
  readonly currency: string;
  readonly idempotencyKey: string;
  readonly acceptedAt: string;
}

export function encodeOrderRequest(request: OrderRequest): Uint8Array {
  return Buffer.from(JSON.stringify(request), "utf8");
}

/** Parses a stream message; undefined for a message that is not a well-formed request. */
export function decodeOrderRequest(data: Uint8Array): OrderRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(data).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const strings = ["orderId", "userId", "sku", "currency", "idempotencyKey", "acceptedAt"] as const;
  if (!strings.every((field) => typeof r[field] === "string")) return undefined;
  if (!Number.isInteger(r.quantity) || !Number.isInteger(r.priceCents)) return undefined;
  return value as OrderRequest;
}
