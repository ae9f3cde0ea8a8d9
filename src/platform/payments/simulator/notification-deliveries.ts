import { randomBytes } from "node:crypto";
import { request } from "undici";
import { SIGNATURE_HEADER, signNotification } from "../webhook-signature.js";
import type { DeliveryStatus, DeliveryView, NotificationBehaviour, ProviderEvent } from "./simulator-wire.js";

export interface NotificationDeliveriesOptions {
  /** Signs every attempt, each with the time it is sent (so a late redelivery is not stale). */
  readonly secret: string;
  /** First retry after about this long; each further one waits twice as long, up to the cap. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  /** A notification still not delivered this long after it was first due is given up. */
  readonly giveUpAfterMs?: number;
  readonly attemptTimeoutMs?: number;
  /** Requests in flight at once, across all notifications. */
  readonly maxConcurrent?: number;
  /** Called after every change worth persisting. */
  readonly onChange?: () => void;
}

/** A delivery as kept in memory and in the state file. */
export interface DeliveryRecord {
  deliveryId: string;
  event: ProviderEvent;
  url: string;
  status: DeliveryStatus;
  attempts: DeliveryView["attempts"][number][];
  firstDueAt: number;
  nextAttemptAt: number | null;
}

/** Finished deliveries kept for `GET /test/notifications`; older ones are forgotten. */
const FINISHED_KEPT = 10_000;

/**
 * Sends notifications as a provider does: signed, to the payment's notify URL, and again with
 * exponential backoff (equal jitter) until the receiver answers 2xx. A 409 also ends delivery: the
 * receiver already has this event (it refuses replays by event id), so sending it again cannot
 * help. For tests a notification can be sent several times at once, delayed, or held and released
 * later in another order.
 */
export class NotificationDeliveries {
  private readonly deliveries = new Map<string, DeliveryRecord>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private closed = false;
  private readonly retryBaseMs: number;
  private readonly retryCapMs: number;
  private readonly giveUpAfterMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly maxConcurrent: number;

  constructor(private readonly options: NotificationDeliveriesOptions) {
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
    this.retryCapMs = options.retryCapMs ?? 60_000;
    this.giveUpAfterMs = options.giveUpAfterMs ?? 3 * 24 * 3600_000;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    this.maxConcurrent = options.maxConcurrent ?? 32;
  }

  /** Queues `event` for `url`: once, plus `duplicates` copies, after `delayMs`, or held. */
  enqueue(url: string, event: ProviderEvent, behaviour: NotificationBehaviour = {}): void {
    const due = Date.now() + (behaviour.delayMs ?? 0);
    for (let copy = 0; copy <= (behaviour.duplicates ?? 0); copy++) {
      const delivery: DeliveryRecord = {
        deliveryId: `dlv_${randomBytes(8).toString("hex")}`,
        event,
        url,
        status: behaviour.hold ? "held" : "pending",
        attempts: [],
        firstDueAt: due,
        nextAttemptAt: behaviour.hold ? null : due,
      };
      this.deliveries.set(delivery.deliveryId, delivery);
      if (!behaviour.hold) this.schedule(delivery);
    }
    this.options.onChange?.();
  }

  /**
   * Sends the held notifications one after another, in the order they were made or its reverse,
   * each waiting for the answer to the one before: so the receiver sees them in exactly that order.
   * Any that fail are retried as usual. Resolves to the number released.
   */
  async release(order: "created" | "reverse" = "created"): Promise<number> {
    const held = [...this.deliveries.values()].filter((delivery) => delivery.status === "held");
    if (order === "reverse") held.reverse();
    for (const delivery of held) {
      delivery.status = "pending";
      delivery.firstDueAt = Date.now();
      await this.attempt(delivery);
    }
    return held.length;
  }

  list(): DeliveryView[] {
    return [...this.deliveries.values()].map((delivery) => ({
      deliveryId: delivery.deliveryId,
      eventId: delivery.event.id,
      type: delivery.event.type,
      providerPaymentId: delivery.event.data.providerPaymentId,
      url: delivery.url,
      status: delivery.status,
      attempts: [...delivery.attempts],
    }));
  }

  /**
   * What a restart must carry on with: the deliveries not finished yet. Finished ones stay listed
   * in memory only, so the state file stays small however many payments went through.
   */
  snapshot(): DeliveryRecord[] {
    return [...this.deliveries.values()].filter(
      (delivery) => delivery.status === "held" || delivery.status === "pending",
    );
  }

  /** Takes back deliveries from a state file; those still pending are scheduled again. */
  restore(records: readonly DeliveryRecord[]): void {
    for (const record of records) {
      this.deliveries.set(record.deliveryId, record);
      if (record.status === "pending") this.schedule(record);
    }
  }

  /** Stops scheduling; attempts in flight finish (their outcome is kept for the state file). */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.inFlight]);
  }

  private schedule(delivery: DeliveryRecord): void {
    if (this.closed || delivery.nextAttemptAt === null) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(delivery.deliveryId);
        void this.attempt(delivery);
      },
      Math.max(0, delivery.nextAttemptAt - Date.now()),
    );
    this.timers.set(delivery.deliveryId, timer);
  }

  private attempt(delivery: DeliveryRecord): Promise<void> {
    const running = this.send(delivery).finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
    return running;
  }

  private async send(delivery: DeliveryRecord): Promise<void> {
    await this.slot();
    const started = Date.now();
    let status: number | null = null;
    let error: string | undefined;
    try {
      const body = JSON.stringify(delivery.event);
      const response = await request(delivery.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          [SIGNATURE_HEADER]: signNotification(this.options.secret, body, Math.floor(Date.now() / 1000)),
        },
        body,
        headersTimeout: this.attemptTimeoutMs,
        bodyTimeout: this.attemptTimeoutMs,
      });
      await response.body.dump();
      status = response.statusCode;
    } catch (failure) {
      error = (failure as Error).message || String(failure);
    } finally {
      this.freeSlot();
    }
    delivery.attempts.push({
      at: new Date(started).toISOString(),
      status,
      ...(error ? { error } : {}),
      ms: Date.now() - started,
    });
    if (status !== null && status >= 200 && status < 300) this.finish(delivery, "delivered");
    else if (status === 409) this.finish(delivery, "refused");
    else if (Date.now() - delivery.firstDueAt > this.giveUpAfterMs) this.finish(delivery, "gave_up");
    else {
      delivery.nextAttemptAt = Date.now() + this.retryDelayMs(delivery.attempts.length);
      this.schedule(delivery);
    }
    this.options.onChange?.();
  }

  /** Equal jitter: half the exponential step for sure, half at random, so retries spread but keep growing. */
  private retryDelayMs(attempts: number): number {
    const step = Math.min(this.retryCapMs, this.retryBaseMs * 2 ** (attempts - 1));
    return Math.round(step / 2 + (Math.random() * step) / 2);
  }

  private finish(delivery: DeliveryRecord, status: DeliveryStatus): void {
    delivery.status = status;
    delivery.nextAttemptAt = null;
    this.forgetOldFinished();
  }

  private forgetOldFinished(): void {
    if (this.deliveries.size <= FINISHED_KEPT) return;
    for (const [id, delivery] of this.deliveries) {
      if (this.deliveries.size <= FINISHED_KEPT) return;
      if (delivery.nextAttemptAt === null && delivery.status !== "held") this.deliveries.delete(id);
    }
  }

  private async slot(): Promise<void> {
    if (this.active < this.maxConcurrent) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Hands the slot straight to the next waiter, if any, so `active` never overshoots. */
  private freeSlot(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
