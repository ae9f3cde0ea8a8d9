import { CarrierError } from "../../platform/carrier/carrier.js";

/**
 * Bounds how long one carrier call may hold a sweep. The call may still land after its timeout:
 * the shipment's lease keeps other processes off it meanwhile, and whoever asks again asks with the
 * same idempotency key, so a late success is found, never doubled.
 */
export async function withinTimeout<T>(call: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CarrierError("unavailable", `${what}: no answer from the carrier in ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failure, as kept in the shipment's last_error and logs. */
export function describeFailure(error: unknown): string {
  if (error instanceof CarrierError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
