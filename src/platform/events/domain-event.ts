import { randomUUID } from "node:crypto";

/**
 * What services tell each other about their own changes ("order.paid", "payment.succeeded"…),
 * carried by the stream. The id is unique per event, so a consumer that sees it twice (a
 * redelivery, a relay that died after appending) acts once.
 */
export interface DomainEvent<Data = Record<string, unknown>> {
  readonly id: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly data: Data;
}

export function newEvent<Data extends Record<string, unknown>>(type: string, data: Data): DomainEvent<Data> {
  return { id: randomUUID(), type, occurredAt: new Date().toISOString(), data };
}

export function encodeEvent(event: DomainEvent<unknown>): Uint8Array {
  return Buffer.from(JSON.stringify(event), "utf8");
}

/** Undefined for a message that is not a well-formed event (a consumer dead-letters it). */
export function decodeEvent(bytes: Uint8Array): DomainEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const e = value as Record<string, unknown>;
  if (typeof e.id !== "string" || typeof e.type !== "string" || typeof e.occurredAt !== "string")
    return undefined;
  if (typeof e.data !== "object" || e.data === null || Array.isArray(e.data)) return undefined;
  return value as DomainEvent;
}
