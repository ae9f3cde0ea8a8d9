/**
 * The error catalogue: every error a client can see, with its stable code, HTTP status and
 * whether retrying the same request may succeed. docs/errors.md is generated from this table
 * and a test keeps the two in step. Codes are a contract: add freely, never rename.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly retryable: boolean;
  readonly message: string;
}

export const ERROR_CATALOGUE = {
  invalid_json: { status: 400, retryable: false, message: "The request body is not valid JSON." },
  invalid_request: {
    status: 400,
    retryable: false,
    message: "The request does not match the expected shape.",
  },
  invalid_cursor: { status: 400, retryable: false, message: "The pagination cursor is malformed." },
  invalid_topic: {
    status: 400,
    retryable: false,
    message: "A queue topic is letters, digits, _ and - in dot-separated parts, such as orders.requested.",
  },
  invalid_dead_letter_id: {
    status: 400,
    retryable: false,
    message: "This is not a dead-letter id of the configured queue; take ids from GET /admin/dlq.",
  },
  invalid_replay_selection: {
    status: 400,
    retryable: false,
    message: 'Name the dead letters to replay: either "ids" (a non-empty list) or "all": true, not both.',
  },
  webhook_signature_invalid: {
    status: 400,
    retryable: false,
    message:
      "The notification's Floodgate-Signature header is missing, malformed, or does not match the body (HMAC-SHA256 over `timestamp.body` with the webhook secret).",
  },
  webhook_stale: {
    status: 400,
    retryable: false,
    message:
      "The notification was signed more than 5 minutes away from now; a replayed notification is refused.",
  },
  webhook_malformed: {
    status: 400,
    retryable: false,
    message: "The notification is correctly signed but is not a payment event Floodgate understands.",
  },
  unauthorized: { status: 401, retryable: false, message: "A valid bearer token is required." },
  forbidden: { status: 403, retryable: false, message: "This token may not do that." },
  sale_not_open: { status: 403, retryable: false, message: "The sale for this SKU is not open now." },
  route_not_found: { status: 404, retryable: false, message: "No such route." },
  product_not_found: { status: 404, retryable: false, message: "No product has this id." },
  order_not_found: { status: 404, retryable: false, message: "No order has this id." },
  unknown_sku: { status: 404, retryable: false, message: "No product has this SKU." },
  sale_not_found: { status: 404, retryable: false, message: "No sale exists for this SKU." },
  mail_not_found: {
    status: 404,
    retryable: false,
    message: "No email has this id, or this mail catcher does not keep its message (an SMTP server is set).",
  },
  method_not_allowed: { status: 405, retryable: false, message: "This route does not accept that method." },
  request_timeout: {
    status: 408,
    retryable: true,
    message: "The request did not arrive in time; the connection is closed. Retry.",
  },
  sold_out: { status: 409, retryable: false, message: "The SKU is sold out." },
  limit_exceeded: {
    status: 409,
    retryable: false,
    message: "The quantity exceeds what this user may still buy in this sale.",
  },
  sku_taken: { status: 409, retryable: false, message: "A product with this SKU already exists." },
  sku_immutable: {
    status: 409,
    retryable: false,
    message: "A product's SKU cannot change: sales and orders refer to it.",
  },
  sale_exists: { status: 409, retryable: false, message: "A sale for this SKU already exists." },
  order_not_refundable: {
    status: 409,
    retryable: false,
    message: "Only a paid order (paid, shipped or completed) can be refunded.",
  },
  order_not_payable: {
    status: 409,
    retryable: false,
    message:
      "Only a created order (stored, not yet paid or cancelled) can be paid; `status` says what it is.",
  },
  webhook_replayed: {
    status: 409,
    retryable: false,
    message:
      "A notification with this event id was taken before; it is not processed again (a provider may stop redelivering it).",
  },
  stock_below_held: {
    status: 409,
    retryable: false,
    message: "A sale's stock cannot go below the units already sold or reserved.",
  },
  payload_too_large: { status: 413, retryable: false, message: "The request body is too large." },
  unsupported_media_type: {
    status: 415,
    retryable: false,
    message: "The request body must be application/json.",
  },
  idempotency_key_reused: {
    status: 422,
    retryable: false,
    message: "This Idempotency-Key was already used with a different request.",
  },
  invalid_sale_window: {
    status: 422,
    retryable: false,
    message: "The sale must end after it starts.",
  },
  rate_limited: {
    status: 429,
    retryable: true,
    message: "Too many requests from this user or address; retry after the time Retry-After gives.",
  },
  headers_too_large: {
    status: 431,
    retryable: false,
    message: "The request line and headers together are larger than the server accepts.",
  },
  internal_error: { status: 500, retryable: true, message: "Something went wrong on our side." },
  dependency_failed: {
    status: 502,
    retryable: true,
    message: "A service this request depends on answered with an error.",
  },
  not_accepted: {
    status: 503,
    retryable: true,
    message: "The order could not be recorded durably; nothing was charged or reserved. Retry later.",
  },
  outcome_unknown: {
    status: 503,
    retryable: true,
    message:
      "The order may or may not have been accepted. Retry with the same Idempotency-Key to learn which (it never makes a second order).",
  },
  unavailable: { status: 503, retryable: true, message: "The service is starting or shutting down." },
  payment_provider_unavailable: {
    status: 503,
    retryable: true,
    message:
      "The payment provider could not be reached. Retry: the same payment is returned, never a second one.",
  },
  queue_unavailable: {
    status: 503,
    retryable: true,
    message: "The queue could not be read or written just now (its server may be down). Retry later.",
  },
  dependency_timeout: {
    status: 504,
    retryable: true,
    message: "A service this request depends on did not answer in time.",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

/** An error meant for the client: its code picks the status; the message may add detail. */
export class AppError extends Error {
  readonly status: number;
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    /** Seconds the client should wait before retrying (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
    /** Machine-readable facts about this error, sent beside `code` and `message` (e.g. `orderId`). */
    readonly details?: Readonly<Record<string, string>>,
  ) {
    const spec: ErrorSpec = ERROR_CATALOGUE[code];
    super(message ?? spec.message);
    this.name = "AppError";
    this.status = spec.status;
    this.retryable = spec.retryable;
  }

  /**
   * An expected refusal (sold out, over the limit…) without a stack trace. A flash sale answers
   * thousands of these a second and nobody reads their stacks; capturing them costs real CPU.
   */
  static refusal(code: ErrorCode, message?: string): AppError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new AppError(code, message);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
