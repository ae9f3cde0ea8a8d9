import type { Logger } from "../../platform/observability/logger.js";

export interface SweepLoopOptions {
  readonly name: string;
  /** One pass: resolves to how many items it handled. */
  readonly sweep: () => Promise<number>;
  /** A pass that handled this many goes again at once: there may be more due. */
  readonly batch: number;
  /** How often an idle loop looks for due work. */
  readonly pollMs: number;
  readonly logger: Logger;
}

/**
 * Runs a sweep over due rows again and again: at once while it finds a full batch, else every
 * `pollMs` or when nudged (after a commit that left work for it). The work is in the database, so
 * the loop itself holds nothing a crash could lose. A failing pass is logged and tried again,
 * slower, up to 5 s apart.
 */
export class SweepLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;

  constructor(private readonly options: SweepLoopOptions) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** Finishes the pass in hand, then stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { name, sweep, batch, pollMs, logger } = this.options;
    let failures = 0;
    while (this.running) {
      this.nudged = false;
      let handled = 0;
      try {
        handled = await sweep();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1 || failures % 50 === 0)
          logger.error({ err: error, sweep: name, failures }, "sweep failed");
      }
      if (!this.running || (handled >= batch && failures === 0) || this.nudged) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, failures > 0 ? Math.min(5_000, pollMs * 2 ** failures) : pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
