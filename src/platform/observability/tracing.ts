import { context, propagation, type Span, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

/**
 * Distributed tracing (OpenTelemetry), off unless started. Every instrumented place asks
 * `tracingActive()` first and does nothing else when it is false: no span objects, no header
 * parsing, no context switches. That is what "off costs nothing" means here, and why the
 * instrumentation does not rely on the API's no-op tracer (which still allocates per call).
 */
let active = false;

export const TRACER_NAME = "floodgate";

export function tracingActive(): boolean {
  return active;
}

export function tracer() {
  return trace.getTracer(TRACER_NAME);
}

export interface TracingOptions {
  /** resource `service.name`: which process the spans come from (`floodgate-orders`, `floodgate-gateway`). */
  readonly serviceName: string;
  /** The collector's OTLP/HTTP address; traces go to `<url>/v1/traces` unless it has a path. */
  readonly otlpUrl?: string;
  /** Tests: spans go here, one at a time as they end, instead of an OTLP batch. */
  readonly exporter?: SpanExporter;
  /** Share of new traces recorded, 0 to 1; a trace that arrives sampled (traceparent) stays sampled. */
  readonly sampleRatio: number;
}

export interface RunningTracing {
  /** Sends what is buffered, then stops; tracing is off afterwards. */
  shutdown(): Promise<void>;
}

/** The OTLP traces endpoint for a collector base URL (the OpenTelemetry convention). */
export function otlpTracesEndpoint(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname === "/" || parsed.pathname === "" ? new URL("/v1/traces", parsed).href : parsed.href;
}

/**
 * Starts tracing for this process: W3C trace context propagation, context kept across awaits
 * (AsyncLocalStorage), parent-based ratio sampling, and spans exported over OTLP/HTTP in batches.
 */
export function startTracing(options: TracingOptions): RunningTracing {
  if (active) throw new Error("tracing is already started in this process");
  const exporter =
    options.exporter ?? new OTLPTraceExporter({ url: otlpTracesEndpoint(options.otlpUrl ?? "") });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
    spanProcessors: [options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  active = true;
  return {
    async shutdown() {
      active = false;
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** The trace context of `span` (or the active one) as W3C headers, added to `into`. */
export function injectTraceHeaders(into: Record<string, string>, span?: Span): Record<string, string> {
  const from = span ? trace.setSpan(context.active(), span) : context.active();
  propagation.inject(from, into);
  return into;
}

/** The context a `traceparent` (and `tracestate`) header describes, on top of the active one. */
export function extractTraceContext(headers: Readonly<Record<string, string | string[] | undefined>>) {
  return propagation.extract(context.active(), headers);
}

/** For log lines: the active span's ids, or nothing. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!active) return undefined;
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
