import type { TelemetrySample } from "../../src/platform/observability/telemetry.js";

export type { TelemetrySample };

/** The body of `GET /dashboard/series`. */
interface SeriesResponse {
  readonly intervalMs: number;
  readonly samples: readonly TelemetrySample[];
}

export type ConnectionState =
  | { readonly kind: "connecting" }
  | { readonly kind: "live" }
  | { readonly kind: "disconnected"; readonly reason: string; readonly retryAt: number };

export interface TelemetryStreamHandlers {
  /** New samples, oldest first, each newer than any delivered before. */
  onSamples(samples: readonly TelemetrySample[]): void;
  onState(state: ConnectionState): void;
}

const SERIES_URL = "/dashboard/series";
const EVENTS_URL = "/dashboard/events";
const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 10_000;
/** The server samples every 500 ms by default; this many intervals of silence means the stream is dead. */
const SILENT_INTERVALS_BEFORE_RECONNECT = 10;
const MIN_SILENCE_MS = 5_000;

/**
 * Keeps the page fed with telemetry: backfills from `GET /dashboard/series`, then follows the SSE
 * stream. EventSource retries by itself, but it gives up for good on some failures and never
 * notices a stream that went silent (a proxy or a half-open TCP connection), so this class owns
 * reconnection: on any error or silence it closes the stream, says "disconnected", waits with
 * backoff, and backfills the gap before following the stream again.
 */
export class TelemetryStream {
  private source: EventSource | undefined;
  private lastSampleAt = 0;
  private silenceLimitMs = MIN_SILENCE_MS;
  private retryDelayMs = FIRST_RETRY_MS;
  private retryTimer: number | undefined;
  private silenceTimer: number | undefined;
  /** Bumped on every (re)connect, so callbacks of an abandoned attempt do nothing. */
  private attempt = 0;

  constructor(private readonly handlers: TelemetryStreamHandlers) {}

  start(): void {
    this.connect();
  }

  private connect(): void {
    const attempt = ++this.attempt;
    this.handlers.onState({ kind: "connecting" });
    // Open the stream first and hold its samples while the backfill is in flight; opening it
    // after the backfill would lose whatever was sampled in between.
    const held: TelemetrySample[] = [];
    let backfilled = false;
    const source = new EventSource(EVENTS_URL);
    this.source = source;
    source.addEventListener("sample", (event) => {
      if (attempt !== this.attempt) return;
      const sample = JSON.parse((event as MessageEvent<string>).data) as TelemetrySample;
      if (backfilled) this.deliver([sample]);
      else held.push(sample);
    });
    source.addEventListener("error", () => {
      if (attempt === this.attempt) this.fail("the live stream was interrupted");
    });
    this.backfill(attempt).then(
      () => {
        if (attempt !== this.attempt) return;
        backfilled = true;
        this.deliver(held);
        this.handlers.onState({ kind: "live" });
      },
      (error: unknown) => {
        if (attempt === this.attempt) this.fail(describe(error));
      },
    );
  }

  private async backfill(attempt: number): Promise<void> {
    const response = await fetch(`${SERIES_URL}?since=${Math.floor(this.lastSampleAt)}`, {
      cache: "no-store",
    });
    if (!response.ok) throw new Error(`the server answered HTTP ${response.status}`);
    const series = (await response.json()) as SeriesResponse;
    if (attempt !== this.attempt) return;
    this.silenceLimitMs = Math.max(MIN_SILENCE_MS, series.intervalMs * SILENT_INTERVALS_BEFORE_RECONNECT);
    this.deliver(series.samples);
  }

  private deliver(samples: readonly TelemetrySample[]): void {
    // The backfill and the stream overlap by a sample or two; keep each sample once, in order.
    const fresh = samples.filter((sample) => sample.at > this.lastSampleAt);
    if (fresh.length > 0) {
      this.lastSampleAt = fresh[fresh.length - 1]!.at;
      this.retryDelayMs = FIRST_RETRY_MS;
      this.handlers.onSamples(fresh);
    }
    this.watchForSilence();
  }

  private watchForSilence(): void {
    window.clearTimeout(this.silenceTimer);
    const attempt = this.attempt;
    this.silenceTimer = window.setTimeout(() => {
      if (attempt === this.attempt) this.fail("no data received for a while");
    }, this.silenceLimitMs);
  }

  private fail(reason: string): void {
    this.attempt++;
    this.source?.close();
    this.source = undefined;
    window.clearTimeout(this.silenceTimer);
    window.clearTimeout(this.retryTimer);
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(MAX_RETRY_MS, this.retryDelayMs * 2);
    this.handlers.onState({ kind: "disconnected", reason, retryAt: Date.now() + delay });
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }
}

/** Why loading the history failed, in words for the banner. */
function describe(error: unknown): string {
  // fetch rejects with a TypeError when no HTTP answer came back at all.
  if (error instanceof TypeError) return "the server is not reachable";
  return error instanceof Error ? error.message : String(error);
}
