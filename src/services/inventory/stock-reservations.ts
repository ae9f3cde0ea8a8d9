import { GroupCommit } from "../../platform/batching/group-commit.js";
import type { Sql } from "../../platform/db/database.js";
import { AppError } from "../../platform/errors/catalogue.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Counter } from "../../platform/observability/metrics.js";
import type {
  Reservation,
  ReservationBook,
  ReservationRef,
  ReserveDecision,
  ReserveRequest,
  Transition,
} from "../../platform/reservations/reservation-book.js";
import type { ReleaseReason, ReserveResult, SettleDecision } from "./api.js";
import type {
  InsertOutcome,
  RecordedReservation,
  ReleasedReservation,
  ReservationInsert,
  ReservationStore,
} from "./reservation-store.js";
import type { StockLoader } from "./stock-loader.js";
import type { StockNews } from "./stock-news.js";

/** A release not settled in the book by then was abandoned (its process died); the sweeper settles it. */
export const RELEASE_DEADLINE_MS = 30_000;

/** The reservation was made on a book state the record refused: the book was reloaded; try again. */
const RELOADED = Symbol("reloaded");
type Attempt = ReserveResult | typeof RELOADED;

export interface StockReservationsOptions {
  readonly book: ReservationBook;
  readonly store: ReservationStore;
  readonly loader: StockLoader;
  readonly news: StockNews;
  readonly log: Logger;
  /** inventory_reservations_total{outcome} */
  readonly outcomes: Counter<"outcome">;
  readonly ttlMs: number;
}

const notAccepted = () => new AppError("not_accepted", undefined, 1);

/**
 * Reserving, settling, confirming and releasing stock: the inventory's heart.
 *
 * The book (memory or Redis) decides fast; the database row decides for good. A reservation is
 * taken in the book, then its row is written with a re-check of everything the book decided (see
 * ReservationStore.insertReservations), and only then answered. Every later change — accepted,
 * confirmed, released — is a conditional update of the row, which the book then mirrors. So
 * whatever the book says, two paths can never both win: the row's update is the single decision.
 */
export class StockReservations {
  private readonly writes: GroupCommit<ReservationInsert, InsertOutcome>;
  /** Reserves whose row is being written here: a concurrent duplicate waits for the first's answer. */
  private readonly inFlight = new Map<string, Promise<ReserveResult>>();

  constructor(private readonly options: StockReservationsOptions) {
    this.writes = new GroupCommit((batch) => options.store.insertReservations(batch));
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    // Duplicates arriving while this request's row is written wait for its final answer, retry
    // on a reloaded book included: an answer taken from the first attempt alone could say "not
    // accepted" for an order the retry then stores.
    let resolve!: (result: ReserveResult) => void;
    let reject!: (error: unknown) => void;
    const answer = new Promise<ReserveResult>((ok, fail) => {
      resolve = ok;
      reject = fail;
    });
    answer.catch(() => {}); // waited on only by duplicates, if any
    let claimed = false;
    const claim = () => {
      if (claimed) return;
      claimed = true;
      this.inFlight.set(request.orderId, answer);
    };
    try {
      // A reservation refused because the book was behind is tried once more on the reloaded book.
      for (let attempt = 0; attempt < 2; attempt++) {
        const result = await this.reserveOnce(request, claim, answer);
        if (result !== RELOADED) {
          resolve(result);
          return result;
        }
      }
      throw notAccepted();
    } catch (error) {
      reject(error);
      throw error;
    } finally {
      if (claimed && this.inFlight.get(request.orderId) === answer) this.inFlight.delete(request.orderId);
    }
  }

  /**
   * One try on the book. `claim` registers the whole reserve() as the answer duplicates wait for,
   * once this request owns a reservation; `own` is that answer, which a retry must not wait on.
   */
  private async reserveOnce(
    request: ReserveRequest,
    claim: () => void,
    own: Promise<ReserveResult>,
  ): Promise<Attempt> {
    const { news, outcomes } = this.options;
    const decision = await this.decide(request);
    if (decision.kind === "refused") {
      outcomes.inc({ outcome: decision.reason });
      if (decision.reason === "sold_out" && decision.available === 0 && decision.version !== undefined) {
        news.refusedSoldOut(request.sku, decision.version);
      }
      return {
        outcome: "refused",
        reason: decision.reason,
        available: decision.available,
        ...(decision.version !== undefined ? { version: decision.version } : {}),
      };
    }
    if (decision.kind === "duplicate") {
      outcomes.inc({ outcome: "duplicate" });
      return this.duplicateOf(decision.reservation, own);
    }
    if (decision.after.available === 0) news.soldOut(request.sku, decision.after.version);
    claim();
    return this.write(decision);
  }

  /**
   * The book's answer; a SKU it does not have is loaded from the record and asked again, and a
   * key it may have let go of when its order settled is looked up in the record.
   */
  private async decide(
    request: ReserveRequest,
  ): Promise<Exclude<ReserveDecision, { kind: "maybe_settled" }>> {
    const { book, loader, ttlMs } = this.options;
    try {
      let decision = await book.reserve(request, ttlMs);
      if (decision.kind === "refused" && decision.reason === "no_sale") {
        if (!(await loader.reload(request.sku))) return decision;
        decision = await book.reserve(request, ttlMs);
      }
      if (decision.kind !== "maybe_settled") return decision;
      const row = await this.options.store.liveByKey(request.userId, request.idempotencyKey);
      if (row)
        return {
          kind: "duplicate",
          reservation: { ...row.reservation, status: row.status === "released" ? "reserved" : row.status },
        };
      // Released, or the filter's false positive: the key is free.
      decision = await book.reserve({ ...request, settledChecked: true }, ttlMs);
      if (decision.kind === "maybe_settled")
        throw new Error("the book asked its filter again after settledChecked");
      return decision;
    } catch (error) {
      // A book that cannot answer (Redis down): nothing was accepted; the buyer retries.
      this.options.outcomes.inc({ outcome: "book_unavailable" });
      this.options.log.error({ err: error, sku: request.sku }, "the reservation book did not answer");
      throw notAccepted();
    }
  }

  private async write(decision: Extract<ReserveDecision, { kind: "reserved" }>): Promise<Attempt> {
    const { loader, log, outcomes } = this.options;
    const { reservation, fence } = decision;
    const ref = refOf(reservation);
    let outcome: InsertOutcome;
    try {
      outcome = await this.writes.submit({ reservation, fence });
    } catch (error) {
      // The write may have committed though it reported failure: release it (it is nobody's: no
      // one was answered). If that fails too, the reservation stays and expires.
      log.error({ err: error, orderId: reservation.orderId }, "reservation write failed");
      outcomes.inc({ outcome: "write_failed" });
      await this.release([ref], "not_accepted").catch(() => {});
      throw notAccepted();
    }
    switch (outcome.kind) {
      case "inserted":
        outcomes.inc({ outcome: "reserved" });
        return {
          outcome: "reserved",
          orderId: reservation.orderId,
          available: decision.after.available,
          version: decision.after.version,
        };
      case "key_in_use": {
        await this.mirror("forget", ref);
        const holder = outcome.holder;
        if (holder && holder.sku === reservation.sku && holder.quantity === reservation.quantity) {
          // The record holds this very request under the key, and the book did not know it: the
          // book is behind.
          await loader.reload(reservation.sku, fence.epoch);
          return RELOADED;
        }
        outcomes.inc({ outcome: "idempotency_key_reused" });
        throw AppError.refusal("idempotency_key_reused");
      }
      case "book_behind":
        outcomes.inc({ outcome: `book_behind_${outcome.reason}` });
        log.error(
          { sku: reservation.sku, epoch: fence.epoch, reason: outcome.reason },
          "the reservation book is behind the database; reloading the SKU",
        );
        await this.mirror("forget", ref);
        await loader.reload(reservation.sku, fence.epoch);
        return RELOADED;
    }
  }

  /** Answers a request whose key already names a reservation, with that reservation's real state. */
  private async duplicateOf(found: Reservation, own?: Promise<ReserveResult>): Promise<ReserveResult> {
    const inFlight = this.inFlight.get(found.orderId);
    const running = inFlight === own ? undefined : inFlight;
    if (running) {
      // The first request is being written here: its final answer, refusals included, is this one's.
      const first = await running;
      if (first.outcome !== "reserved") return first;
    }
    const { book, store } = this.options;
    const ref = refOf(found);
    let state = (await book.get(ref).catch(() => found))?.status ?? found.status;
    if (state === "reserved" && book.shared && !running) {
      // Another inventory process may be writing it right now, or failing to: only its row tells.
      const row = (await store.rows([found.orderId])).get(found.orderId);
      if (!row) {
        // Its first request may still be writing it (and be answered 202), or have failed to.
        throw new AppError(
          "outcome_unknown",
          `Order ${found.orderId} is still being recorded; retry with the same Idempotency-Key.`,
          1,
          { orderId: found.orderId },
        );
      }
      if (row.status === "released") {
        // Released while the book did not hear of it: never to be stored; the key frees up.
        await this.mirrorRow(ref, row);
        throw notAccepted();
      }
      state = row.status;
    }
    return {
      outcome: "duplicate",
      orderId: found.orderId,
      sku: found.sku,
      quantity: found.quantity,
      state: state === "releasing" ? "releasing" : state === "reserved" ? "undecided" : "accepted",
      reservedAt: new Date(found.reservedAtMs).toISOString(),
    };
  }

  /** See InventoryApi.settle. */
  async settle(ref: ReservationRef, decision: SettleDecision): Promise<"accepted" | "rejected"> {
    if (decision === "accept") {
      const row = await this.options.store.accept(ref.orderId);
      await this.mirrorRow(ref, row);
      return row && row.status !== "released" ? "accepted" : "rejected";
    }
    const released = await this.release([ref], "not_accepted");
    if (released.includes(ref.orderId)) return "rejected";
    const row = (await this.options.store.rows([ref.orderId])).get(ref.orderId);
    return row && row.status !== "released" ? "accepted" : "rejected";
  }

  /**
   * Releases for `reason` what the record allows. The book holds the units (`releasing`) until the
   * row's release commits, so it never hands out stock the record still holds; whatever the record
   * decided instead (accepted, confirmed, already released) the book then mirrors.
   */
  async release(refs: readonly ReservationRef[], reason: ReleaseReason): Promise<string[]> {
    const { book, store } = this.options;
    await Promise.all(
      refs.map((ref) => book.transition("begin-release", ref, RELEASE_DEADLINE_MS).catch(() => undefined)),
    );
    let released: ReleasedReservation[];
    try {
      released = await store.release(refs, reason);
    } catch (error) {
      await Promise.all(refs.map((ref) => this.mirror("abort-release", ref)));
      throw error;
    }
    const done = new Set(released.map((r) => r.orderId));
    const rest = refs.filter((ref) => !done.has(ref.orderId));
    const rows = await store.rows(rest.map((ref) => ref.orderId));
    await Promise.all([
      ...released.map((r) => this.mirrorRelease(r)),
      ...rest.map(async (ref) => {
        await this.mirror("abort-release", ref);
        await this.mirrorRow(ref, rows.get(ref.orderId));
      }),
    ]);
    return [...done];
  }

  /**
   * Returns the units of cancelled orders (confirmed or not) to the sale, in the caller's
   * transaction (an event consumer's): the book is told after that commits (`afterCommit`).
   */
  async releaseCancelled(
    tx: Sql,
    refs: readonly ReservationRef[],
    afterCommit: (work: () => Promise<void>) => void,
  ): Promise<string[]> {
    const released = await this.options.store.release(refs, "cancelled", tx);
    afterCommit(async () => {
      await Promise.all(released.map((r) => this.mirrorRelease(r)));
    });
    return released.map((r) => r.orderId);
  }

  /**
   * A row just released: the book forgets the reservation, or, if it had settled (the book keeps
   * confirmed ones only as totals), gives its units back. Runs once per released row.
   */
  private async mirrorRelease(released: ReleasedReservation): Promise<void> {
    const ref = { orderId: released.orderId, sku: released.sku };
    if ((await this.mirror("forget", ref)) !== "settled") return;
    try {
      this.options.news.changed(await this.options.book.unsell(ref, released));
    } catch (error) {
      // The drift watch finds the units still sold in the book and reloads the SKU from the rows.
      this.options.log.warn({ err: error, orderId: ref.orderId }, "the reservation book could not be told");
    }
  }

  /** See InventoryApi.confirm. The record decides first; the book follows. */
  async confirm(refs: readonly ReservationRef[]): Promise<{ confirmed: string[]; notConfirmed: string[] }> {
    const rows = await this.options.store.confirm(refs.map((ref) => ref.orderId));
    const confirmed: string[] = [];
    const notConfirmed: string[] = [];
    await Promise.all(
      refs.map(async (ref) => {
        const row = rows.get(ref.orderId);
        if (row?.status === "confirmed") confirmed.push(ref.orderId);
        else notConfirmed.push(ref.orderId);
        await this.mirrorRow(ref, row);
      }),
    );
    return { confirmed, notConfirmed };
  }

  /**
   * Makes the book hold what the row says. The book answering "unknown" for a live row means it
   * forgot a reservation the record has: it is behind, and the SKU is reloaded.
   */
  async mirrorRow(ref: ReservationRef, row: RecordedReservation | undefined): Promise<void> {
    if (!row) {
      await this.mirror("forget", ref);
      return;
    }
    switch (row.status) {
      case "released":
        await this.mirror("forget", ref);
        return;
      case "reserved":
        return;
      case "accepted":
      case "confirmed": {
        const result = await this.mirror(row.status === "accepted" ? "accept" : "confirm", ref);
        if (result === "unknown") {
          const levels = await this.options.book.levels(ref.sku).catch(() => undefined);
          await this.options.loader.reload(ref.sku, levels?.epoch).catch((error: unknown) => {
            this.options.log.error({ err: error, sku: ref.sku }, "reloading live stock failed");
          });
        }
      }
    }
  }

  /**
   * Tells the book; the record is already right, so a book that cannot be told now is put right
   * later (the sweeper, a reload). Announces what became available.
   */
  private async mirror(
    op: Transition,
    ref: ReservationRef,
  ): Promise<"ok" | "refused" | "settled" | "unknown" | "failed"> {
    try {
      const result = await this.options.book.transition(op, ref);
      if (result.outcome === "ok" && result.change) this.options.news.changed(result.change);
      return result.outcome;
    } catch (error) {
      this.options.log.warn(
        { err: error, orderId: ref.orderId, op },
        "the reservation book could not be told",
      );
      return "failed";
    }
  }

  /** Waits for the reservation writes in flight. */
  drain(): Promise<void> {
    return this.writes.drain();
  }
}

function refOf(reservation: Reservation): ReservationRef {
  return { orderId: reservation.orderId, sku: reservation.sku };
}
