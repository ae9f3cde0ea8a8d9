import type { Gauge } from "prom-client";
import type { Metrics } from "../observability/metrics.js";
import type { Stream, TopicStats } from "./stream.js";

/** A consumer group whose figures go on /metrics. */
export interface WatchedGroup {
  readonly topic: string;
  readonly group: string;
}

/**
 * One scrape reads several gauges (and the telemetry sampler reads them twice a second): they
 * share one `stats()` per topic within this window instead of asking the broker once each.
 */
const SNAPSHOT_MAX_AGE_MS = 100;

/**
 * Registers the queue's gauges for `watched`, read from `stream.stats()` at scrape time:
 *
 * - `floodgate_queue_lag_messages{topic,group}`: the group's depth, i.e. its consumer lag: messages
 *   appended and not yet acked, in-flight ones included (the dashboard's queue depth);
 * - `floodgate_queue_in_flight_messages{topic,group}`: delivered and not yet acked;
 * - `floodgate_queue_redelivered_messages{topic,group}`: of those, the ones delivered more than
 *   once, i.e. being retried now (a gauge; see GroupStats.redelivered for each adapter);
 * - `floodgate_queue_dead_letter_messages{topic}`: messages in the topic's dead-letter topic;
 * - `floodgate_queue_appended_messages{topic}`: messages appended since the topic began (its
 *   high-water mark: `rate()` of it is the rate orders enter the queue).
 *
 * When the queue cannot be read (a broker outage), the series are left out of that scrape and
 * `floodgate_queue_stats_failures_total{topic}` counts it, so the rest of /metrics still answers.
 */
export function registerQueueMetrics(
  metrics: Metrics,
  stream: Stream,
  watched: readonly WatchedGroup[],
): void {
  const topics = [...new Set(watched.map((entry) => entry.topic))];
  const failures = metrics.counter(
    "queue_stats_failures_total",
    "Scrapes that could not read the queue's figures, per topic.",
    ["topic"],
  );
  const snapshots = new Map<string, { at: number; stats: Promise<TopicStats | undefined> }>();
  const read = (topic: string): Promise<TopicStats | undefined> => {
    const now = performance.now();
    const cached = snapshots.get(topic);
    if (cached !== undefined && now - cached.at < SNAPSHOT_MAX_AGE_MS) return cached.stats;
    const stats = stream.stats(topic).catch(() => {
      failures.inc({ topic });
      return undefined;
    });
    snapshots.set(topic, { at: now, stats });
    return stats;
  };

  const perGroup = (
    name: string,
    help: string,
    pick: (group: TopicStats["groups"][number]) => number,
  ): void => {
    metrics.gauge(name, help, ["topic", "group"], async (gauge: Gauge<"topic" | "group">) => {
      gauge.reset();
      for (const { topic, group } of watched) {
        const found = (await read(topic))?.groups.find((entry) => entry.group === group);
        // A group the broker does not know yet (being created) has no figures to show.
        if (found !== undefined) gauge.set({ topic, group }, pick(found));
      }
    });
  };
  const perTopic = (name: string, help: string, pick: (stats: TopicStats) => number): void => {
    metrics.gauge(name, help, ["topic"], async (gauge: Gauge<"topic">) => {
      gauge.reset();
      for (const topic of topics) {
        const stats = await read(topic);
        if (stats !== undefined) gauge.set({ topic }, pick(stats));
      }
    });
  };

  perGroup(
    "queue_lag_messages",
    "Queue depth (consumer lag): messages appended but not yet acked by the group, in-flight ones included.",
    (group) => group.lag,
  );
  perGroup(
    "queue_in_flight_messages",
    "Messages delivered to the group and not yet acked.",
    (group) => group.inFlight,
  );
  perGroup(
    "queue_redelivered_messages",
    "Messages not yet acked that the group has had delivered more than once: being retried now.",
    (group) => group.redelivered,
  );
  perTopic(
    "queue_dead_letter_messages",
    "Messages in the topic's dead-letter topic (<topic>.dead), waiting to be inspected or replayed.",
    (stats) => stats.deadLetters,
  );
  perTopic(
    "queue_appended_messages",
    "Messages appended to the topic since it began: its high-water mark.",
    (stats) => stats.appended,
  );
}
