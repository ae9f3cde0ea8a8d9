import { RequestError, TimeoutError } from "@nats-io/transport-node";

/**
 * Errors that say "the server could not be reached or did not answer in time" rather than "the
 * server refused": worth waiting out, unlike a JetStream API error (bad configuration, limits).
 */
export function isTransientNatsError(error: unknown): boolean {
  if (error instanceof TimeoutError || error instanceof RequestError) {
    return true;
  }
  // The JetStream client turns "no responders" (JetStream not up yet after a server restart)
  // into a JetStreamNotEnabled error whose cause is the RequestError.
  return error instanceof Error && error.cause !== undefined && isTransientNatsError(error.cause);
}

/** No subscriber for the subject: for a publish, no stream captures it (any more). */
export function isNoResponders(error: unknown): boolean {
  if (error instanceof RequestError) {
    return error.isNoResponders();
  }
  return error instanceof Error && error.cause !== undefined && isNoResponders(error.cause);
}
