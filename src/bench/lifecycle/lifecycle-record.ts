import type { InvariantResult } from "../invariants.js";

/** Milliseconds, nearest-rank percentiles over every sample. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

/** One run of one design (Floodgate, or the synchronous baseline) under the same burst. */
export interface LifecycleRunRecord {
  readonly target: "floodgate" | "sync";
  readonly run: number;
  readonly startedAt: string;
  readonly buyers: number;
  /** Time the confirmation burst took to send (every `POST <redirectUrl>/confirm` answered). */
  readonly confirmBurstMs: number;
  /**
   * The webhook as the payment simulator timed it: each `POST /webhooks/payments` attempt from
   * sending to the answer, over every payment.succeeded notification of the burst (retries included).
   */
  readonly webhook: LatencySummary & { readonly retried: number };
  /**
   * The same route from the target's own side, where it reports it: the bucket of
   * http_request_duration_seconds{route="/webhooks/payments"} holding the 99th percentile (an upper bound).
   */
  readonly webhookServerP99UpperBoundMs: number | null;
  /** From the simulator answering the confirmation to the confirmation email being sent (caught). */
  readonly confirmationEmail: LatencySummary;
  /**
   * Orders from paid to completed per second: paid orders ÷ (last `completed` − first `paid`, from
   * the orders' histories). null for the sync baseline, which does not complete orders.
   */
  readonly completedPerSecond: number | null;
  /** Orders marked paid per second over the same history (first to last `paid`). */
  readonly paidPerSecond: number | null;
  /** From the first confirmation to every invariant being readable (drain), seconds. */
  readonly drainSeconds: number;
  readonly invariants: readonly InvariantResult[];
  /** CPU the target's process used over the burst and drain, in cores (null when unknown). */
  readonly targetCpuCores: number | null;
}
