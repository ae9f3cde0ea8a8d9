import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { AppendOptions, ConsumerGroup, Delivery, GroupOptions, Stream } from "../queue/stream.js";
import { extractTraceContext, injectTraceHeaders, tracer } from "./tracing.js";

/**
 * A Stream that carries the trace across the queue: each append is a PRODUCER span whose context
 * travels in the message's headers (W3C `traceparent`), and each delivery a CONSUMER span, child
 * of that producer span, that ends when the consumer acks or naks it. The runtime wraps the
 * process's stream in it only when tracing is on.
 */
export function traceStream(stream: Stream): Stream {
  return {
    append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void> {
      const span = tracer().startSpan(`${topic} publish`, {
        kind: SpanKind.PRODUCER,
        attributes: { "messaging.destination.name": topic, "messaging.operation.type": "send" },
      });
      const headers = injectTraceHeaders({ ...options?.headers }, span);
      return stream.append(topic, data, { ...options, headers }).then(
        () => span.end(),
        (error: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          span.end();
          throw error;
        },
      );
    },
    group(topic: string, group: string, options: GroupOptions): ConsumerGroup {
      const inner = stream.group(topic, group, options);
      return {
        fetch: async (max, waitMs) =>
          (await inner.fetch(max, waitMs)).map((delivery) => tracedDelivery(topic, group, delivery)),
        lag: () => inner.lag(),
        close: () => inner.close(),
      };
    },
    stats: (topic) => stream.stats(topic),
    deadLetters: (topic, query) => stream.deadLetters(topic, query),
    replayDeadLetters: (topic, selection, options) => stream.replayDeadLetters(topic, selection, options),
    close: () => stream.close(),
  };
}

function tracedDelivery(topic: string, group: string, delivery: Delivery): Delivery {
  const parent = delivery.headers ? extractTraceContext(delivery.headers) : context.active();
  const span = tracer().startSpan(
    `${topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "messaging.message.id": delivery.id,
        "floodgate.delivery.attempt": delivery.attempt,
      },
    },
    // A delivery without trace headers starts a trace of its own rather than joining whatever
    // happens to be active in the consumer's loop.
    delivery.headers ? parent : trace.deleteSpan(context.active()),
  );
  let ended = false;
  const end = (outcome: string) => {
    if (ended) return;
    ended = true;
    span.setAttribute("floodgate.delivery.outcome", outcome);
    span.end();
  };
  // Spread keeps any capability the adapter adds (touch, …); only ack and nak are wrapped.
  return {
    ...delivery,
    ack: async () => {
      await delivery.ack();
      end("ack");
    },
    nak: async (delayMs?: number) => {
      await delivery.nak(delayMs);
      end("nak");
    },
  };
}
