import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from "cockatiel";
import { Pool } from "undici";

/** Thrown inside the breaker for an answer that counts as the instance failing (a 5xx). */
export class FailedAnswer extends Error {
  constructor(readonly answer: UpstreamAnswer) {
    super(`answered ${answer.statusCode}`);
  }
}

export interface UpstreamAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export interface InstanceOptions {
  readonly breakerFailures: number;
  readonly breakerOpenMs: number;
}

/**
 * One instance of a service behind the gateway: a keep-alive connection pool, the health its
 * /readyz last reported, the requests it has in flight (for least-busy balancing), and a circuit
 * breaker that takes it out after consecutive failures, between health checks.
 */
export class UpstreamInstance {
  readonly pool: Pool;
  /** Unknown until the first health check answers; an unknown instance gets no requests. */
  healthy = false;
  inFlight = 0;
  /** Health checks in a row that timed out (see UpstreamGroup). */
  slowChecks = 0;
  readonly breaker: CircuitBreakerPolicy;

  constructor(
    readonly origin: string,
    options: InstanceOptions,
  ) {
    // Keep-alive connections, reused across requests; pipelining off so one slow answer never
    // holds up the others on its connection.
    this.pool = new Pool(origin, { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
    this.breaker = circuitBreaker(
      // A refused connection counts against the instance; a "not ready" answer does not (it is
      // draining as asked, and the health check takes it out).
      handleWhen((error) => !(error instanceof NotSentError && error.answer !== undefined)),
      { halfOpenAfter: options.breakerOpenMs, breaker: new ConsecutiveBreaker(options.breakerFailures) },
    );
  }

  /** Healthy and not shut out by its breaker. */
  get available(): boolean {
    return this.healthy && this.breaker.state !== CircuitState.Open;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/**
 * The instance provably did not process the request: the connection was refused, or the
 * instance answered that it is not ready (draining or starting) before any handler ran. Any
 * method may then go to another instance.
 */
export class NotSentError extends Error {
  constructor(
    message: string,
    readonly answer?: UpstreamAnswer,
  ) {
    super(message);
  }
}
