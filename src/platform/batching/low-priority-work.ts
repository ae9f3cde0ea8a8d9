import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";

export interface LowPriorityWorkOptions {
  /** Messages waiting in the queue the workers drain; work is deferred while it exceeds `maxLag`. */
  readonly lag: () => Promise<number>;
  readonly maxLag: number;
  readonly intervalMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * Valley filling for housekeeping: tasks that compete with the order workers for the database
 * (reconciliation, reports) run on an interval, but only while the queue is nearly drained. During
 * a burst each due run is deferred (and counted), so the database's capacity goes to the backlog
 * first. A lag that cannot be read counts as "busy": deferring is always safe.
 */
export class LowPriorityWork {
  private readonly tasks: { name: string; run: () => Promise<void> }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly runs;

  constructor(private readonly options: LowPriorityWorkOptions) {
    this.runs = options.metrics.counter(
      "low_priority_runs_total",
      "Low-priority task runs by outcome: ran, deferred (queue lag above the threshold) or failed.",
      ["task", "outcome"],
    );
  }

  add(name: string, run: () => Promise<void>): void {
    this.tasks.push({ name, run });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => {
        this.running = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One round: each task runs if the lag allows it now (exposed for tests and admin triggers). */
  async tick(): Promise<void> {
    for (const task of this.tasks) {
      let lag: number;
      try {
        lag = await this.options.lag();
      } catch {
        lag = Number.POSITIVE_INFINITY;
      }
      if (lag > this.options.maxLag) {
        this.runs.inc({ task: task.name, outcome: "deferred" });
        continue;
      }
      try {
        await task.run();
        this.runs.inc({ task: task.name, outcome: "ran" });
      } catch (error) {
        this.runs.inc({ task: task.name, outcome: "failed" });
        this.options.logger.error({ err: error, task: task.name }, "low-priority task failed");
      }
    }
  }
}
