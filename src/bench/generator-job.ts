import type { GeneratorJob } from "./generator/messages.js";
import type { BenchOptions } from "./options.js";
import type { WorkloadSpec } from "./workload.js";

/** A request without an answer after this long is a timeout error. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** A closed-model run given as a request count has no natural end time; this bounds it. */
const MAX_CLOSED_RUN_MS = 10 * 60_000;
const SLACK_MS = 5_000;

export function buildGeneratorJob(options: BenchOptions, url: string, workload: WorkloadSpec): GeneratorJob {
  const { length, model } = options;
  const deadlineMs =
    length.kind === "duration"
      ? length.seconds * 1000 + REQUEST_TIMEOUT_MS + SLACK_MS
      : model.kind === "open"
        ? (length.count / model.rate) * 1000 + REQUEST_TIMEOUT_MS + SLACK_MS
        : MAX_CLOSED_RUN_MS;
  return {
    // wrk drives the closed model only: the open model (also --at-fraction-of-max's, which turns a
    // closed-model calibration into an open-model run) takes the JavaScript generator.
    generator: model.kind === "open" ? "node" : options.generator,
    url,
    model,
    length,
    workload,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    deadlineMs: Math.ceil(deadlineMs),
  };
}
