import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type { Counter, Gauge } from "prom-client";

/**
 * One Prometheus registry per process. Services create their own instruments on it through
 * these helpers so names stay prefixed and label sets stay small (bounded cardinality).
 */
export class Metrics {
  readonly registry = new Registry();

  constructor(
    defaultLabels: Record<string, string> = {},
    /**
     * The process's own figures (CPU, memory, event-loop delay). Each registry that collects them
     * keeps its own event-loop monitor running for the life of the process, so code that makes
     * many short-lived registries (tests) turns them off.
     */
    options: { processMetrics?: boolean } = {},
  ) {
    this.registry.setDefaultLabels(defaultLabels);
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({
        register: this.registry,
        prefix: "floodgate_process_",
        eventLoopMonitoringPrecision: 20,
      });
    }
  }

  /**
   * Instruments are per name: asking again for one already made (several consumers of one kind in
   * a process) returns it, so they count into one series set instead of failing to register.
   */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const existing = this.registry.getSingleMetric(`floodgate_${name}`);
    if (existing) return existing as Counter<L>;
    return new Counter({ name: `floodgate_${name}`, help, labelNames, registers: [this.registry] });
  }

  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    collect?: (gauge: Gauge<L>) => void | Promise<void>,
  ): Gauge<L> {
    const existing = this.registry.getSingleMetric(`floodgate_${name}`);
    if (existing) return existing as Gauge<L>;
    return new Gauge({
      name: `floodgate_${name}`,
      help,
      labelNames,
      registers: [this.registry],
      ...(collect
        ? {
            collect(this: Gauge<L>) {
              return collect(this);
            },
          }
        : {}),
    });
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  ): Histogram<L> {
    const existing = this.registry.getSingleMetric(`floodgate_${name}`);
    if (existing) return existing as Histogram<L>;
    return new Histogram({
      name: `floodgate_${name}`,
      help,
      labelNames,
      buckets,
      registers: [this.registry],
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
