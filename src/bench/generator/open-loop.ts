import { Pool } from "undici";
import { createLatencyHistogram, recordLatencyMs, summarizeLatency } from "../latency.js";
import type { Workload } from "../workload.js";
import type { DriverOutcome } from "./closed-loop.js";
import type { GeneratorJob } from "./messages.js";
import type { Recorder } from "./recorder.js";
import { transportErrorCause } from "./transport-error.js";

/** The first send is scheduled a little ahead so it, too, leaves on time. */
const START_DELAY_MS = 20;
/** Requests in flight at most; past this the generator would only grow memory, so it counts a miss. */
const MAX_OUTSTANDING = 50_000;

/**
 * Open model, written by hand rather than with autocannon's `overallRate`, because that rate
 * limiter is a closed loop underneath: each connection sends its next request only after the
 * previous answer and stops for the rest of the second once its per-second quota is used. When
 * the server stalls, the requests that should have gone out are simply never sent, and their
 * waiting never shows in the latencies (coordinated omission); its correction
 * (`recordValueWithExpectedInterval(latency, Math.ceil(1 / rate))`) uses an expected interval of
 * 1 ms whatever the rate, so it does not repair it either.
 *
 * Here request i is due at t0 + i/rate and is handed to undici then, whether or not earlier
 * ones were answered (undici queues it when all connections are busy), and its latency runs from
 * that intended time, so time spent queued behind a stall is counted. A request not answered
 * within the request timeout of its intended time is abandoned and counted as a timeout, so an
 * overloaded target ends the run on time instead of draining an ever longer queue. How late
 * requests actually left (send lag) is reported too: a large lag means the generator, not the
 * target, fell behind.
 */
export async function runOpenLoop(
  job: GeneratorJob,
  workload: Workload,
  recorder: Recorder,
): Promise<DriverOutcome> {
  if (job.model.kind !== "open") throw new Error("runOpenLoop needs an open model");
  const { rate, connections } = job.model;
  const total =
    job.length.kind === "requests" ? job.length.count : Math.max(1, Math.round(job.length.seconds * rate));
  const intervalMs = 1000 / rate;
  const pool = new Pool(job.url, {
    connections,
    pipelining: 1,
    headersTimeout: job.requestTimeoutMs,
    bodyTimeout: job.requestTimeoutMs,
    connect: { timeout: job.requestTimeoutMs },
  });
  const sendLag = createLatencyHistogram();
  const startedAt = performance.now() + START_DELAY_MS;
  let next = 0;
  let sent = 0;
  let outstanding = 0;
  let truncated = false;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let timer: NodeJS.Timeout | undefined;

  const send = (intendedAt: number) => {
    const planned = workload.next();
    outstanding++;
    sent++;
    recordLatencyMs(sendLag, performance.now() - intendedAt);
    pool
      .request({
        method: planned.method,
        path: planned.path,
        headers: planned.headers,
        body: planned.body,
        signal: AbortSignal.timeout(
          Math.max(1, Math.ceil(intendedAt + job.requestTimeoutMs - performance.now())),
        ),
      })
      .then(async (response) => {
        const body = await response.body.text();
        recorder.response(planned.kind, response.statusCode, performance.now() - intendedAt, body);
        workload.observe(planned, response.statusCode, body);
      })
      .catch((error: unknown) => {
        if (!truncated) recorder.transportError(transportErrorCause(error));
      })
      .finally(() => {
        outstanding--;
        if (next >= total && outstanding === 0) finish();
      });
  };

  const pump = () => {
    const now = performance.now();
    while (next < total && startedAt + next * intervalMs <= now) {
      if (outstanding >= MAX_OUTSTANDING) recorder.transportError("generator_backlog_full");
      else send(startedAt + next * intervalMs);
      next++;
    }
    if (next < total)
      timer = setTimeout(pump, Math.max(0, startedAt + next * intervalMs - performance.now()));
    else if (outstanding === 0) finish();
  };

  timer = setTimeout(pump, START_DELAY_MS);
  const deadline = setTimeout(() => {
    truncated = true;
    finish();
  }, job.deadlineMs);
  await finished;
  clearTimeout(deadline);
  clearTimeout(timer);
  // After a hard stop this aborts whatever is still queued or in flight.
  await pool.destroy();
  return { sent, startedAt, truncated, sendLag: summarizeLatency(sendLag) };
}
