import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { extractTraceContext, injectTraceHeaders, tracer, tracingActive } from "./tracing.js";

/** Probes and scrapes are not part of any order's story; tracing them would only add noise. */
const UNTRACED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

const serverSpans = new WeakMap<FastifyRequest, Span>();

/**
 * A SERVER span per request, child of the caller's `traceparent`, active while the handler runs
 * (so the spans and log lines it causes belong to it), ended with the response's status.
 */
export function registerServerSpans(app: FastifyInstance): void {
  if (!tracingActive()) return;
  app.addHook("onRequest", (request, _reply, done) => {
    if (!tracingActive() || UNTRACED_PATHS.has(request.url)) return done();
    const parent = extractTraceContext(request.headers);
    const route = request.routeOptions.url ?? "unmatched";
    const span = tracer().startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { "http.request.method": request.method, "http.route": route, "url.path": request.url },
      },
      parent,
    );
    serverSpans.set(request, span);
    done();
  });
  // After the body is parsed: the handler is called from this hook's `done`, so it runs (and
  // everything it awaits continues) inside the span's context.
  app.addHook("preHandler", (request, _reply, done) => {
    const span = serverSpans.get(request);
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook("onResponse", (request, reply, done) => {
    const span = serverSpans.get(request);
    if (span) {
      span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      serverSpans.delete(request);
    }
    done();
  });
}

/** The span of the request being handled, when tracing is on. */
export function serverSpanOf(request: FastifyRequest): Span | undefined {
  return serverSpans.get(request);
}

/**
 * Runs `call` inside a CLIENT span named `name`, child of the active span, handing it the
 * headers that carry the span to the server. Without tracing: `call({})`, nothing else.
 */
export async function withClientSpan<T>(
  name: string,
  attributes: Record<string, string | number>,
  call: (traceHeaders: Record<string, string>) => Promise<T>,
  parent?: Span,
): Promise<T> {
  if (!tracingActive()) return call({});
  const parentContext = parent ? trace.setSpan(context.active(), parent) : context.active();
  const span = tracer().startSpan(name, { kind: SpanKind.CLIENT, attributes }, parentContext);
  try {
    const result = await call(injectTraceHeaders({}, span));
    return result;
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}
