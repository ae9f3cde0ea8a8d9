import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "../platform/observability/logger.js";
import { type InstanceOptions, UpstreamInstance } from "./upstream-instance.js";

/** How often host names are looked up again (a Kubernetes headless Service's pods come and go). */
const DNS_REFRESH_MS = 5_000;
/** How long a health check waits for /readyz. */
const HEALTH_TIMEOUT_MS = 2_000;
/** Health checks in a row that must time out before a slow instance is taken out. */
const SLOW_CHECKS_TO_DROP = 3;

export interface UpstreamGroupOptions extends InstanceOptions {
  readonly healthIntervalMs: number;
  readonly logger: Logger;
}

/**
 * Every instance of one service. The configured URLs are taken as they are when their host is an
 * address; a host name is looked up and each address it resolves to becomes an instance (what a
 * headless Service gives), looked up again every few seconds. Each instance's /readyz is asked
 * every `healthIntervalMs`; requests go to the available instance with the fewest in flight,
 * ties taken in turn.
 */
export class UpstreamGroup {
  private instances = new Map<string, UpstreamInstance>();
  private turn = 0;
  private healthTimer: NodeJS.Timeout | undefined;
  private dnsTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** A round of checks still running when the next is due is not doubled. */
  private checking = false;

  constructor(
    readonly service: string,
    private readonly urls: readonly string[],
    private readonly options: UpstreamGroupOptions,
  ) {}

  /** Resolves the instances and checks them once, then keeps doing both in the background. */
  async start(): Promise<void> {
    await this.resolve();
    await this.checkHealth();
    this.healthTimer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs);
    this.healthTimer.unref();
    if (this.urls.some((url) => isIP(new URL(url).hostname.replace(/^\[|\]$/g, "")) === 0)) {
      this.dnsTimer = setInterval(() => void this.resolve().catch(() => {}), DNS_REFRESH_MS);
      this.dnsTimer.unref();
    }
  }

  all(): UpstreamInstance[] {
    return [...this.instances.values()];
  }

  /** The instance for the next request, skipping `excluded`; undefined when none is available. */
  pick(excluded: ReadonlySet<UpstreamInstance> = new Set()): UpstreamInstance | undefined {
    const candidates = this.all().filter((instance) => instance.available && !excluded.has(instance));
    if (candidates.length === 0) return undefined;
    this.turn = (this.turn + 1) % candidates.length;
    let best = candidates[this.turn]!;
    for (const candidate of candidates) if (candidate.inFlight < best.inFlight) best = candidate;
    return best;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    clearInterval(this.dnsTimer);
    await Promise.all(this.all().map((instance) => instance.close()));
  }

  private async resolve(): Promise<void> {
    const origins = new Set<string>();
    for (const url of this.urls) {
      const parsed = new URL(url);
      const host = parsed.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host) !== 0) {
        origins.add(parsed.origin);
        continue;
      }
      try {
        for (const { address, family } of await lookup(host, { all: true })) {
          const resolved = new URL(parsed.origin);
          resolved.hostname = family === 6 ? `[${address}]` : address;
          origins.add(resolved.origin);
        }
      } catch (error) {
        // Keep what we had: a DNS hiccup must not empty the group.
        this.options.logger.warn({ err: error, service: this.service, host }, "gateway: lookup failed");
        for (const origin of this.instances.keys()) origins.add(origin);
      }
    }
    if (this.closed) return;
    for (const origin of origins) {
      if (!this.instances.has(origin)) this.instances.set(origin, new UpstreamInstance(origin, this.options));
    }
    for (const [origin, instance] of this.instances) {
      if (origins.has(origin)) continue;
      this.instances.delete(origin);
      // Let requests under way finish on its pool.
      void instance.pool.close().catch(() => {});
    }
  }

  private async checkHealth(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await Promise.all(this.all().map((instance) => this.checkInstance(instance)));
    } finally {
      this.checking = false;
    }
  }

  /**
   * An answer other than 200 (starting, draining) or a refused connection takes the instance out
   * at once. A slow answer does not, until SLOW_CHECKS_TO_DROP in a row: under a burst /readyz
   * waits behind the requests like everything else, and dropping busy instances for being busy
   * would leave none.
   */
  private async checkInstance(instance: UpstreamInstance): Promise<void> {
    let healthy: boolean;
    try {
      const response = await instance.pool.request({
        method: "GET",
        path: "/readyz",
        headersTimeout: HEALTH_TIMEOUT_MS,
        bodyTimeout: HEALTH_TIMEOUT_MS,
      });
      await response.body.dump();
      healthy = response.statusCode === 200;
      instance.slowChecks = 0;
    } catch (error) {
      const code = (error as { code?: string }).code;
      const slow = code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
      instance.slowChecks = slow ? instance.slowChecks + 1 : 0;
      healthy = slow && instance.slowChecks < SLOW_CHECKS_TO_DROP ? instance.healthy : false;
    }
    if (healthy !== instance.healthy) {
      this.options.logger.info(
        { service: this.service, instance: instance.origin, healthy },
        healthy ? "gateway: instance ready" : "gateway: instance not ready",
      );
    }
    instance.healthy = healthy;
  }
}
