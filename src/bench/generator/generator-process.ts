/**
 * Entry point of the load generator's own process (forked by fork-generator.ts), so the
 * generator's CPU never competes with the bench's bookkeeping and its CPU use can be measured
 * alone. It receives one job over IPC, reports progress every second and sends the result back.
 */
import { Workload } from "../workload.js";
import { runClosedLoop } from "./closed-loop.js";
import type { GeneratorJob, GeneratorMessage, GeneratorResult, ParentMessage } from "./messages.js";
import { runOpenLoop } from "./open-loop.js";
import { Recorder } from "./recorder.js";
import { runWrkLoop } from "./wrk-loop.js";

const PROGRESS_INTERVAL_MS = 1000;

function send(message: GeneratorMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/** Requests the run will send, when known in advance (for signing tokens ahead). */
function expectedRequests(job: GeneratorJob): number {
  if (job.length.kind === "requests") return job.length.count;
  if (job.model.kind === "open") return Math.round(job.length.seconds * job.model.rate);
  return job.workload.users;
}

export async function runGeneratorJob(
  job: GeneratorJob,
  onProgress: (progress: { elapsedMs: number; completed: number; errors: number }) => void,
  onStarted: () => void = () => {},
): Promise<GeneratorResult> {
  const workload = new Workload(job.workload);
  workload.prepare(expectedRequests(job));
  if (job.generator === "wrk") {
    // wrk's script prints how many it has answered once a second; errors are known at the end.
    let started = performance.now();
    let answered = 0;
    const ticker = setInterval(
      () =>
        onProgress({ elapsedMs: Math.round(performance.now() - started), completed: answered, errors: 0 }),
      PROGRESS_INTERVAL_MS,
    );
    try {
      return await runWrkLoop(job, workload, {
        onStarted: () => {
          started = performance.now();
          onStarted();
        },
        onAnswered: (count) => {
          answered = count;
        },
      });
    } finally {
      clearInterval(ticker);
    }
  }
  onStarted();
  const recorder = new Recorder(job.requestTimeoutMs);
  const startedAtEpoch = Date.now();
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  const ticker = setInterval(() => {
    recorder.closeInterval();
    onProgress({
      elapsedMs: Math.round(performance.now() - wallBefore),
      completed: recorder.completed,
      errors: recorder.errors,
    });
  }, PROGRESS_INTERVAL_MS);
  try {
    const outcome =
      job.model.kind === "open"
        ? await runOpenLoop(job, workload, recorder)
        : await runClosedLoop(job, workload, recorder);
    recorder.closeInterval();
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = performance.now() - wallBefore;
    const end = recorder.lastResponseAt > 0 ? recorder.lastResponseAt : performance.now();
    const durationMs = Math.max(1, end - outcome.startedAt);
    return {
      model: job.model.kind,
      generator: "node",
      startedAt: startedAtEpoch,
      durationMs: Math.round(durationMs),
      sent: outcome.sent,
      completed: recorder.completed,
      throughputRps: Math.round((recorder.completed / durationMs) * 1000 * 10) / 10,
      latencyMs: recorder.latency(),
      latencyByKindMs: recorder.latencyByKind(),
      statusCounts: recorder.statusCounts(),
      errorCodes: recorder.errorCodes(),
      transportErrors: recorder.transportErrors(),
      series: recorder.series(),
      acceptedOrderIds: workload.acceptedOrderIds(),
      cpu: {
        userMs: Math.round(cpu.user / 1000),
        systemMs: Math.round(cpu.system / 1000),
        wallMs: Math.round(wallMs),
        coresUsed: Math.round(((cpu.user + cpu.system) / 1000 / wallMs) * 100) / 100,
        processTotalMs: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
      },
      sendLagMs: outcome.sendLag ?? null,
      truncated: outcome.truncated,
    };
  } finally {
    clearInterval(ticker);
  }
}

if (process.send) {
  process.once("message", (message: ParentMessage) => {
    if (message.type !== "run") return;
    runGeneratorJob(
      message.job,
      (progress) => void send({ type: "progress", progress }),
      () => void send({ type: "started" }),
    )
      .then((result) => send({ type: "result", result }))
      .catch((error: unknown) =>
        send({
          type: "failed",
          message: error instanceof Error ? (error.stack ?? error.message) : String(error),
        }),
      )
      .finally(() => process.exit(0));
  });
}
