import { AppError } from "../errors/catalogue.js";

/**
 * This process may not mint ids right now: its worker-id lease could not be renewed in time (the
 * lease server is unreachable) or another process took the id over. Minting anyway could repeat an
 * id the new holder mints, so the request is refused as `503 unavailable` with Retry-After; the
 * lease keeps trying in the background and minting resumes once it holds an id again.
 */
export class WorkerIdLeaseLostError extends AppError {
  override readonly name = "WorkerIdLeaseLostError";

  constructor(reason: string, retryAfterSeconds: number) {
    super(
      "unavailable",
      `This process cannot mint ids just now: ${reason}. Retry shortly.`,
      retryAfterSeconds,
    );
  }
}

/** Every snowflake worker id is leased by a live process: start-up stops with this. */
export class NoFreeWorkerIdError extends Error {
  override readonly name = "NoFreeWorkerIdError";

  constructor(where: string, workerIds: number, leaseMs: number) {
    super(
      `all ${workerIds} snowflake worker ids are leased on ${where}, so this process cannot get one. ` +
        `Stop a process you no longer need (a crashed process's lease expires within ${Math.ceil(leaseMs / 1000)} s), ` +
        "or set FLOODGATE_WORKER_ID on every process instead (then no lease is taken, and each process " +
        "must be given an id no other process uses).",
    );
  }
}
