import { createInbox, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { isAckSubject } from "./ack-subject.js";

/**
 * One JetStream pull request, issued with the raw protocol rather than the client's
 * `consumer.fetch()`, because the port's `fetch(max, waitMs)` needs what that API does not offer:
 * `no_wait` together with `expires` ("deliver what is available and end at once; if nothing is,
 * wait up to `expires` for the first message"), with expiries below one second (the client
 * enforces expires >= 1000 ms, and fetch accepts waitMs = 0). The expiry must be the server's,
 * not a client timer: a pull the client abandons stays open on the server, which then delivers
 * into an inbox nobody reads, and that message comes back only after the ack wait, one attempt
 * poorer. (The Go client's Fetch sends the same no_wait + expires combination.)
 */
export interface PullRequest {
  readonly batch: number;
  /** End the request as soon as the available messages are delivered (404/408 status). */
  readonly noWait?: boolean;
  /** Keep the request open on the server at most this long (with noWait: only while empty). */
  readonly expiresMs?: number;
}

export type PullEnd =
  | { readonly kind: "filled" }
  /** 404 no messages, 408 expired, 409 consumer deleted / limits exceeded, 503 no responders… */
  | { readonly kind: "status"; readonly code: number; readonly description: string }
  /** The server never answered within the client's bound (unreachable, or gone mid-request). */
  | { readonly kind: "client-timeout" }
  | { readonly kind: "cancelled" };

export interface PullOutcome {
  readonly messages: Msg[];
  readonly end: PullEnd;
}

export interface PendingPull {
  readonly outcome: Promise<PullOutcome>;
  /** Ends the request now; messages already received are kept in the outcome. */
  cancel(): void;
}

/** Idle heartbeats (status 100) are informational; every other status ends a pull request. */
const HEARTBEAT = 100;

export function startPull(
  connection: NatsConnection,
  apiSubject: string,
  request: PullRequest,
  clientTimeoutMs: number,
): PendingPull {
  const messages: Msg[] = [];
  let settle: (end: PullEnd) => void = () => undefined;
  let subscription: Subscription | undefined;
  const outcome = new Promise<PullOutcome>((resolve) => {
    let settled = false;
    settle = (end) => {
      if (settled) {
        return;
      }
      settled = true;
      clearTimeout(timer);
      subscription?.unsubscribe();
      resolve({ messages, end });
    };
    const timer = setTimeout(() => settle({ kind: "client-timeout" }), clientTimeoutMs);
    timer.unref();
  });
  const inbox = createInbox();
  subscription = connection.subscribe(inbox, {
    callback: (error, message) => {
      if (error !== null) {
        settle({ kind: "status", code: 0, description: error.message });
        return;
      }
      if (isAckSubject(message.reply)) {
        messages.push(message);
        if (messages.length >= request.batch) {
          settle({ kind: "filled" });
        }
        return;
      }
      const code = message.headers?.code ?? 0;
      if (code !== HEARTBEAT) {
        settle({ kind: "status", code, description: message.headers?.description ?? "" });
      }
    },
  });
  const body: { batch: number; no_wait?: boolean; expires?: number } = { batch: request.batch };
  if (request.noWait === true) {
    body.no_wait = true;
  }
  if (request.expiresMs !== undefined) {
    body.expires = Math.max(1, Math.round(request.expiresMs)) * 1_000_000;
  }
  try {
    connection.publish(apiSubject, JSON.stringify(body), { reply: inbox });
  } catch (error) {
    settle({ kind: "status", code: 0, description: String(error) });
  }
  return { outcome, cancel: () => settle({ kind: "cancelled" }) };
}
