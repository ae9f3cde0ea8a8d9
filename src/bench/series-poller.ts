import type { TelemetrySample } from "../platform/observability/telemetry.js";
import type { TargetApi } from "./target-api.js";

const POLL_INTERVAL_MS = 1000;

/**
 * Collects the target's own 500 ms telemetry (`GET /dashboard/series?since=`) during a run, so the
 * report shows what the server saw (intake, writes, queue, cache, event loop) next to what the
 * generator saw. A target without the route (an older build behind --url) just yields nothing.
 */
export class SeriesPoller {
  private readonly samples: TelemetrySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private since = 0;
  private available = true;

  constructor(private readonly api: TargetApi) {}

  start(sinceMs: number): void {
    this.since = sinceMs;
    this.timer = setInterval(() => {
      this.inFlight = this.inFlight.then(() => this.poll());
    }, POLL_INTERVAL_MS);
  }

  /** The newest sample so far. */
  latest(): TelemetrySample | undefined {
    return this.samples.at(-1);
  }

  /** Stops polling at once (a failed run); safe to call after stop(). */
  cancel(): void {
    clearInterval(this.timer);
  }

  /** Stops polling after one last fetch, and returns every sample collected. */
  async stop(): Promise<TelemetrySample[] | null> {
    clearInterval(this.timer);
    await this.inFlight;
    await this.poll();
    return this.available ? this.samples : null;
  }

  private async poll(): Promise<void> {
    if (!this.available) return;
    try {
      const response = await this.api.request<{ samples?: TelemetrySample[] }>(
        "GET",
        `/dashboard/series?since=${this.since}`,
      );
      if (response.status === 404) {
        this.available = false;
        return;
      }
      for (const sample of response.body.samples ?? []) {
        if (sample.at > this.since) {
          this.samples.push(sample);
          this.since = sample.at;
        }
      }
    } catch {
      // A missed poll loses nothing: the next one asks for everything since the last sample.
    }
  }
}
