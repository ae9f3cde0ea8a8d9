import autocannon from "autocannon";
import type { LatencySummary } from "../latency.js";
import type { PlannedRequest, Workload } from "../workload.js";
import type { GeneratorJob } from "./messages.js";
import type { Recorder } from "./recorder.js";
import { transportErrorCause } from "./transport-error.js";

export interface DriverOutcome {
  readonly sent: number;
  /** performance.now() when the first request was sent. */
  readonly startedAt: number;
  readonly truncated: boolean;
  /** Open model only: how late requests left compared with their intended time. */
  readonly sendLag?: LatencySummary;
}

/** autocannon hands every request of a connection a fresh context; we keep the plan in it. */
interface RequestContext {
  planned?: PlannedRequest;
  sentAt?: number;
}

/** Stopping a duration run is checked on autocannon's sampling tick; 100 ms keeps the overrun short. */
const SAMPLE_INTERVAL_MS = 100;

/**
 * Closed model on autocannon: `connections` keep-alive connections, each sending its next
 * request as soon as the previous one is answered. `setupRequest` builds every request from the
 * workload (its own buyer token, Idempotency-Key or Zipf product id) and `onResponse` records it.
 * autocannon builds a request right before writing it, so `sentAt` is taken there.
 */
export function runClosedLoop(
  job: GeneratorJob,
  workload: Workload,
  recorder: Recorder,
): Promise<DriverOutcome> {
  const connections =
    job.length.kind === "requests"
      ? Math.min(job.model.connections, job.length.count)
      : job.model.connections;
  let sent = 0;
  let truncated = false;
  const startedAt = performance.now();
  return new Promise<DriverOutcome>((resolve, reject) => {
    let deadline: NodeJS.Timeout | undefined;
    const instance = autocannon(
      {
        url: job.url,
        connections,
        pipelining: 1,
        timeout: Math.max(1, Math.ceil(job.requestTimeoutMs / 1000)),
        sampleInt: SAMPLE_INTERVAL_MS,
        ...(job.length.kind === "requests" ? { amount: job.length.count } : { duration: job.length.seconds }),
        requests: [
          {
            setupRequest: (request, context) => {
              const planned = workload.next();
              const state = context as RequestContext;
              state.planned = planned;
              state.sentAt = performance.now();
              sent++;
              return {
                ...request,
                method: planned.method,
                path: planned.path,
                headers: planned.headers,
                body: planned.body,
              };
            },
            onResponse: (status, body, context) => {
              const { planned, sentAt } = context as RequestContext;
              if (!planned || sentAt === undefined) return;
              recorder.response(planned.kind, status, performance.now() - sentAt, body);
              workload.observe(planned, status, body);
            },
          },
        ],
      },
      (error) => {
        clearTimeout(deadline);
        if (error) reject(error);
        else resolve({ sent, startedAt, truncated });
      },
    );
    instance.on("reqError", (error: unknown) => recorder.transportError(transportErrorCause(error)));
    deadline = setTimeout(() => {
      truncated = true;
      instance.stop();
    }, job.deadlineMs);
  });
}
