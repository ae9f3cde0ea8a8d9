import { TokenService } from "../platform/auth/tokens.js";
import type { RequestMix, Scenario } from "./options.js";
import { type RandomSource, seededRandom } from "./random.js";
import { ZipfSampler } from "./zipf.js";

/** Everything a generator process needs to build a scenario's requests; plain data, sent over IPC. */
export interface WorkloadSpec {
  readonly scenario: Scenario;
  /** Signs the buyers' bearer tokens (the target verifies them with the same secret). */
  readonly authSecret: string;
  readonly seed: number;
  /** Unique per run, in every Idempotency-Key, so a reused server never sees a key twice. */
  readonly runTag: string;
  readonly users: number;
  /** Buyers are `<prefix>-<n>`: warm-up buyers differ from measured ones, so no token is verified twice. */
  readonly userPrefix: string;
  /** The SKU on sale; empty for catalog-read. */
  readonly sku: string;
  /** Product ids by popularity rank (rank 0 is the most read). */
  readonly productIds: readonly string[];
  readonly zipfExponent: number;
  readonly mix: RequestMix;
}

export type RequestKind = "browse" | "order" | "poll";
export const REQUEST_KINDS: readonly RequestKind[] = ["browse", "order", "poll"];

export interface PlannedRequest {
  readonly kind: RequestKind;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  /** The buyer sending it (orders and polls); -1 for anonymous browsing. */
  readonly userIndex: number;
}

/** Enough accepted orders to poll realistically without holding every id of a long run. */
const POLLABLE_ORDERS_KEPT = 10_000;

/**
 * Builds a scenario's requests one at a time and learns from their answers (accepted order ids,
 * which the flash-sale audit checks and the mixed scenario polls). Deterministic for a seed.
 */
export class Workload {
  private readonly tokens: TokenService;
  private readonly bearers: (string | undefined)[] = [];
  private readonly random: RandomSource;
  private readonly zipf: ZipfSampler | undefined;
  private readonly orderBody: string;
  private readonly accepted: string[] = [];
  private readonly pollable: { orderId: string; userIndex: number }[] = [];
  private sequence = 0;
  private orders = 0;

  constructor(private readonly spec: WorkloadSpec) {
    this.tokens = new TokenService(spec.authSecret);
    this.random = seededRandom(spec.seed);
    this.zipf =
      spec.productIds.length > 0
        ? new ZipfSampler(spec.productIds.length, spec.zipfExponent, seededRandom(spec.seed ^ 0x5bd1e995))
        : undefined;
    this.orderBody = JSON.stringify({ sku: spec.sku, quantity: 1 });
  }

  /** Signs tokens ahead, so the measured run spends no generator time on signatures. */
  prepare(expectedRequests: number): void {
    const buyers = Math.min(this.spec.users, expectedRequests);
    for (let user = 0; user < buyers; user++) this.bearer(user);
  }

  next(): PlannedRequest {
    const index = this.sequence++;
    switch (this.spec.scenario) {
      case "catalog-read":
        return this.browse();
      case "flash-sale":
      case "accept":
        // One request per buyer; past `users` the same buyers come back with the same key, the
        // way a client retries: the target must answer with the first outcome.
        return this.order(index % this.spec.users, `${this.spec.runTag}-${index % this.spec.users}`);
      case "mixed": {
        const draw = this.random();
        const { browse, order } = this.spec.mix;
        if (draw < browse) return this.browse();
        if (draw < browse + order) {
          const orderNumber = this.orders++;
          return this.order(orderNumber % this.spec.users, `${this.spec.runTag}-o${orderNumber}`);
        }
        return this.poll();
      }
    }
  }

  /** Remembers accepted orders: their ids for the audit, and who placed them for later polls. */
  observe(request: PlannedRequest, status: number, body: string): void {
    if (request.kind !== "order" || status !== 202) return;
    const orderId = orderIdOf(body);
    if (orderId === undefined) return;
    this.accepted.push(orderId);
    if (this.pollable.length < POLLABLE_ORDERS_KEPT)
      this.pollable.push({ orderId, userIndex: request.userIndex });
    else
      this.pollable[Math.floor(this.random() * POLLABLE_ORDERS_KEPT)] = {
        orderId,
        userIndex: request.userIndex,
      };
  }

  acceptedOrderIds(): string[] {
    return this.accepted;
  }

  private browse(): PlannedRequest {
    const rank = this.zipf ? this.zipf.next() : 0;
    const id = this.spec.productIds[rank] ?? "0";
    return {
      kind: "browse",
      method: "GET",
      path: `/products/${id}`,
      headers: {},
      body: undefined,
      userIndex: -1,
    };
  }

  private order(userIndex: number, idempotencyKey: string): PlannedRequest {
    return {
      kind: "order",
      method: "POST",
      path: "/orders",
      headers: {
        authorization: this.bearer(userIndex),
        "content-type": "application/json",
        "idempotency-key": idempotencyKey,
      },
      body: this.orderBody,
      userIndex,
    };
  }

  /** A buyer checking an order they placed; before any was accepted, their order list. */
  private poll(): PlannedRequest {
    const known = this.pollable[Math.floor(this.random() * this.pollable.length)];
    const userIndex = known?.userIndex ?? Math.floor(this.random() * this.spec.users);
    return {
      kind: "poll",
      method: "GET",
      path: known ? `/orders/${known.orderId}` : "/me/orders?limit=5",
      headers: { authorization: this.bearer(userIndex) },
      body: undefined,
      userIndex,
    };
  }

  private bearer(userIndex: number): string {
    let bearer = this.bearers[userIndex];
    if (bearer === undefined) {
      bearer = `Bearer ${this.tokens.issue({ userId: `${this.spec.userPrefix}-${userIndex}` })}`;
      this.bearers[userIndex] = bearer;
    }
    return bearer;
  }
}

function orderIdOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { orderId?: unknown };
    return typeof parsed.orderId === "string" ? parsed.orderId : undefined;
  } catch {
    return undefined;
  }
}
