import { BloomBits } from "../../platform/cache/bloom/bloom-bits.js";
import type { Database, Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import {
  holderKey,
  holdersShape,
  type Reservation,
  type ReservationFence,
  type SaleTerms,
  type SettledStock,
  type SkuRecord,
  settledOrderKey,
} from "../../platform/reservations/reservation-book.js";
import type { ReleaseReason } from "./api.js";

/** A reservation the book made, to be written with what the database checks it against. */
export interface ReservationInsert {
  readonly reservation: Reservation;
  readonly fence: ReservationFence;
}

/** Why the database refused a reservation the book had made. */
export type InsertOutcome =
  | { readonly kind: "inserted" }
  /** The user's key names another live reservation (another SKU, or a different request). */
  | { readonly kind: "key_in_use"; readonly holder: KeyHolder | undefined }
  /**
   * The book is behind the record (it forgot reservations) or was loaded again since: the SKU's
   * epoch is fenced and the book must be loaded from the record before it sells again.
   */
  | { readonly kind: "book_behind"; readonly reason: "epoch" | "overlap" | "stock" | "user_limit" };

/** The live reservation a user's key already names. */
export interface KeyHolder {
  readonly orderId: string;
  readonly sku: string;
  readonly quantity: number;
}

export type RowStatus = "reserved" | "accepted" | "confirmed" | "released";

/** What an admin may change of a sale while it runs. */
export interface SaleChange {
  readonly stock?: number | undefined;
  readonly endsAt?: string | undefined;
}

export type TermsChange =
  | {
      readonly kind: "changed";
      readonly before: SaleTerms;
      readonly after: SaleTerms;
      readonly epochBefore: number;
    }
  | { readonly kind: "not_found" }
  | { readonly kind: "invalid_window" }
  | { readonly kind: "below_held"; readonly held: number };

/** A reservation a release just released: what a book needs to give back a settled one's units. */
export interface ReleasedReservation {
  readonly orderId: string;
  readonly sku: string;
  readonly userId: string;
  readonly quantity: number;
}

/** Confirmed rows read per query when a SKU is loaded. */
const SETTLED_PAGE = 10_000;

/** A reservation row as the database holds it. */
export interface RecordedReservation {
  readonly status: RowStatus;
  readonly releaseReason: ReleaseReason | null;
  readonly reservation: Reservation;
}

/** Units held per SKU according to the database of record. */
export interface RecordedStock {
  readonly sku: string;
  readonly stock: number;
  readonly reserved: number;
  readonly sold: number;
  readonly epoch: number;
}

type ReservationRow = {
  order_id: string;
  sku: string;
  user_id: string;
  quantity: number;
  idempotency_key: string;
  status: RowStatus;
  created_at: unknown;
  expires_at: unknown;
};

const RESERVATION_COLUMNS =
  "order_id::text AS order_id, sku, user_id, quantity, idempotency_key, status, created_at, expires_at";

function reservationOf(row: ReservationRow): Reservation {
  return {
    orderId: row.order_id,
    sku: row.sku,
    userId: row.user_id,
    quantity: row.quantity,
    idempotencyKey: row.idempotency_key,
    // A released row is never handed to a book; callers check `status` first.
    status: row.status === "released" ? "reserved" : row.status,
    reservedAtMs: Date.parse(isoTimestamp(row.created_at)),
    expiresAtMs: Date.parse(isoTimestamp(row.expires_at)),
  };
}

type StockRow = {
  sku: string;
  total: number;
  per_user_limit: number;
  held: number;
  book_epoch: string;
  epoch_taken: string;
  epoch_taken_max: string;
  starts_at: unknown;
  ends_at: unknown;
};

function termsOf(row: StockRow): SaleTerms {
  return {
    sku: row.sku,
    stock: row.total,
    perUserLimit: row.per_user_limit,
    startsAt: isoTimestamp(row.starts_at),
    endsAt: isoTimestamp(row.ends_at),
  };
}

/** Released rows are only released for these reasons from these states. */
const RELEASABLE: Record<ReleaseReason, readonly RowStatus[]> = {
  // The intake's append failed and it told the buyer so: only an undecided reservation.
  not_accepted: ["reserved"],
  // No order reached the queue in time: only an undecided one (accepted ones are in the queue).
  expired: ["reserved"],
  cancelled: ["reserved", "accepted", "confirmed"],
};

/**
 * SQL for the inventory schema; the only code that touches its tables. Every change to a
 * reservation is decided here, by a conditional update of its row under the SKU's row lock where
 * stock moves: the row is the record, the book follows it.
 */
export class ReservationStore {
  constructor(private readonly db: Database) {}

  /** Inserts the stock row; false when the SKU already has one. */
  async insertStock(terms: SaleTerms): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO inventory.stock (sku, total, per_user_limit, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sku) DO NOTHING RETURNING sku`,
      [terms.sku, terms.stock, terms.perUserLimit, terms.startsAt, terms.endsAt],
    );
    return rows.length === 1;
  }

  /** Sales still taking orders or that ended less than a day ago (older ones need no live stock). */
  async recentStock(sku?: string): Promise<(SaleTerms & { epoch: number })[]> {
    const rows = await this.db.query<StockRow>(
      `SELECT sku, total, per_user_limit, held, book_epoch::text AS book_epoch, starts_at, ends_at
       FROM inventory.stock
       WHERE ends_at > now() - interval '1 day' AND ($1::text IS NULL OR sku = $1)`,
      [sku ?? null],
    );
    return rows.map((row) => ({ ...termsOf(row), epoch: Number(row.book_epoch) }));
  }

  /**
   * What a book must hold for a SKU, read under the SKU's row lock. When the record's epoch is at
   * or below `badEpoch` (the epoch of a book state known to be bad, or of one a fresh book is about
   * to replace), or `badEpoch` is undefined (the book has nothing), a new epoch is minted first:
   * from then on, reservations made on any earlier load are refused, so no row the read missed can
   * be committed for them. If another load minted one since `badEpoch`, that one is used.
   * Undefined: no such sale.
   */
  async recordForLoad(sku: string, badEpoch: number | undefined): Promise<SkuRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const [stock] = await tx.query<StockRow>(
        `SELECT sku, total, per_user_limit, held, book_epoch::text AS book_epoch, starts_at, ends_at
         FROM inventory.stock WHERE sku = $1 FOR UPDATE`,
        [sku],
      );
      if (!stock) return undefined;
      let epoch = Number(stock.book_epoch);
      if (badEpoch === undefined || epoch <= badEpoch) {
        const [bumped] = await tx.query<{ book_epoch: string }>(
          `UPDATE inventory.stock SET book_epoch = GREATEST(book_epoch, $2) + 1, epoch_taken = 0, epoch_taken_max = 0
           WHERE sku = $1 RETURNING book_epoch::text AS book_epoch`,
          [sku, badEpoch ?? 0],
        );
        epoch = Number(bumped!.book_epoch);
      }
      const terms = termsOf(stock);
      const rows = await tx.query<ReservationRow>(
        `SELECT ${RESERVATION_COLUMNS} FROM inventory.reservations
         WHERE sku = $1 AND status IN ('reserved', 'accepted')`,
        [sku],
      );
      const reservations = rows.map(reservationOf);
      return { terms, epoch, reservations, settled: await this.settledStock(tx, terms, reservations) };
    });
  }

  /**
   * A SKU's confirmed reservations as a book holds them: totals, per-user holdings, and the holders
   * filter (every live reservation's key, and every confirmed one's key and order id). The only read
   * that grows with a sale's history, done at a load; confirmed rows are read a page at a time.
   *
   * Each page is its own snapshot (READ COMMITTED), and a confirm does not wait for the SKU's row
   * lock the load holds: a reservation read as live may be confirmed before its page is read. It
   * is then skipped here (it is in the book as live, and its confirm moves it to sold when the
   * book hears of it), so no unit is counted twice. Inserts and releases wait for the lock.
   */
  private async settledStock(tx: Sql, terms: SaleTerms, live: readonly Reservation[]): Promise<SettledStock> {
    const holders = BloomBits.ofShape(holdersShape(terms.stock));
    const liveIds = new Set(live.map((r) => r.orderId));
    holders.add(live.map((r) => holderKey(r.userId, r.idempotencyKey)));
    const heldByUser = new Map<string, number>();
    let sold = 0;
    let after = "0";
    for (;;) {
      const page = await tx.query<{
        order_id: string;
        user_id: string;
        quantity: number;
        idempotency_key: string;
      }>(
        `SELECT order_id::text AS order_id, user_id, quantity, idempotency_key FROM inventory.reservations
         WHERE sku = $1 AND status = 'confirmed' AND order_id > $2::bigint
         ORDER BY order_id LIMIT ${SETTLED_PAGE}`,
        [terms.sku, after],
      );
      for (const row of page) {
        if (liveIds.has(row.order_id)) continue;
        sold += row.quantity;
        heldByUser.set(row.user_id, (heldByUser.get(row.user_id) ?? 0) + row.quantity);
        holders.add([holderKey(row.user_id, row.idempotency_key), settledOrderKey(row.order_id)]);
      }
      if (page.length < SETTLED_PAGE) break;
      after = page[page.length - 1]!.order_id;
    }
    return { sold, heldByUser, holders: holders.snapshot() };
  }

  /** The live (not released) reservation a user's key names, on any SKU. */
  async liveByKey(userId: string, idempotencyKey: string): Promise<RecordedReservation | undefined> {
    const [row] = await this.db.query<ReservationRow>(
      `SELECT ${RESERVATION_COLUMNS} FROM inventory.reservations
       WHERE user_id = $1 AND idempotency_key = $2 AND status <> 'released'`,
      [userId, idempotencyKey],
    );
    return row && { status: row.status, releaseReason: null, reservation: reservationOf(row) };
  }

  /**
   * Changes a sale's stock and/or end, under its row lock: never below the units held (sold or
   * reserved), never ending before it starts. A change mints a new epoch, so every reservation
   * made on the old terms is refused from now on and the book must be loaded again.
   */
  async changeTerms(sku: string, change: SaleChange): Promise<TermsChange> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query<StockRow>(
        `SELECT sku, total, per_user_limit, held, book_epoch::text AS book_epoch, starts_at, ends_at
         FROM inventory.stock WHERE sku = $1 FOR UPDATE`,
        [sku],
      );
      if (!row) return { kind: "not_found" };
      const before = termsOf(row);
      const stock = change.stock ?? before.stock;
      const endsAt = change.endsAt === undefined ? before.endsAt : new Date(change.endsAt).toISOString();
      if (Date.parse(endsAt) <= Date.parse(before.startsAt)) return { kind: "invalid_window" };
      if (stock < row.held) return { kind: "below_held", held: row.held };
      await tx.query(
        `UPDATE inventory.stock SET total = $2, ends_at = $3, book_epoch = book_epoch + 1, epoch_taken = 0, epoch_taken_max = 0
         WHERE sku = $1`,
        [sku, stock, endsAt],
      );
      return {
        kind: "changed",
        before,
        after: { ...before, stock, endsAt },
        epochBefore: Number(row.book_epoch),
      };
    });
  }

  /** A live reservation by its order id. */
  async reservation(orderId: string): Promise<RecordedReservation | undefined> {
    const row = (await this.rows([orderId])).get(orderId);
    return row?.status === "released" ? undefined : row;
  }

  /** The rows of these order ids, released ones included (absent: never written). */
  async rows(orderIds: readonly string[]): Promise<Map<string, RecordedReservation>> {
    if (orderIds.length === 0) return new Map();
    const rows = await this.db.query<ReservationRow & { release_reason: string | null }>(
      `SELECT ${RESERVATION_COLUMNS}, release_reason FROM inventory.reservations WHERE order_id = ANY($1::bigint[])`,
      [orderIds],
    );
    return new Map(
      rows.map((row) => [
        row.order_id,
        {
          status: row.status,
          releaseReason: row.release_reason as ReleaseReason | null,
          reservation: reservationOf(row),
        },
      ]),
    );
  }

  /** What the database says each recent sale holds: the figures reconciliation compares. */
  async recordedStock(): Promise<RecordedStock[]> {
    const rows = await this.db.query<{
      sku: string;
      total: number;
      reserved: string;
      sold: string;
      book_epoch: string;
    }>(
      `SELECT s.sku, s.total, s.book_epoch::text AS book_epoch,
              COALESCE(SUM(r.quantity) FILTER (WHERE r.status IN ('reserved', 'accepted')), 0)::text AS reserved,
              COALESCE(SUM(r.quantity) FILTER (WHERE r.status = 'confirmed'), 0)::text AS sold
       FROM inventory.stock AS s LEFT JOIN inventory.reservations AS r ON r.sku = s.sku AND r.status <> 'released'
       WHERE s.ends_at > now() - interval '1 day'
       GROUP BY s.sku, s.total, s.book_epoch ORDER BY s.sku`,
    );
    return rows.map((row) => ({
      sku: row.sku,
      stock: row.total,
      reserved: Number(row.reserved),
      sold: Number(row.sold),
      epoch: Number(row.book_epoch),
    }));
  }

  /**
   * Writes a batch of reservations the book made, in one transaction, re-checking each against the
   * record under its SKU's row lock: the epoch it was made in, the units it claims, the stock, the
   * user's limit and the user's key. Answers each in order. A SKU found behind has its epoch bumped
   * (fenced) in the same transaction, and none of its reservations in the batch is written.
   */
  async insertReservations(batch: readonly ReservationInsert[]): Promise<InsertOutcome[]> {
    if (batch.length === 0) return [];
    return this.db.transaction(async (tx) => {
      const skus = [...new Set(batch.map((b) => b.reservation.sku))].sort();
      const stocks = new Map(
        (
          await tx.query<StockRow>(
            `SELECT sku, total, per_user_limit, held, book_epoch::text AS book_epoch,
                    epoch_taken::text AS epoch_taken, epoch_taken_max::text AS epoch_taken_max, starts_at, ends_at
             FROM inventory.stock WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE`,
            [skus],
          )
        ).map((row) => [row.sku, row]),
      );
      const userHeld = await this.liveUnitsByUser(
        tx,
        skus,
        batch.map((b) => b.reservation.userId),
      );
      const keyHolders = await this.liveKeyHolders(tx, batch);

      const outcomes: InsertOutcome[] = batch.map(() => ({ kind: "inserted" }));
      const behind = new Map<string, "epoch" | "overlap" | "stock" | "user_limit">();
      const fenceSkus = new Set<string>();
      const claimedKeys = new Map<string, KeyHolder>();
      // Checked in the order the book took the units, as it decided them.
      const order = batch.map((_, i) => i).sort((a, b) => batch[a]!.fence.taken - batch[b]!.fence.taken);
      const tally = new Map<string, { held: number; taken: number; takenMax: number }>();
      for (const index of order) {
        const { reservation: r, fence } = batch[index]!;
        const stock = stocks.get(r.sku);
        if (!stock || fence.epoch !== Number(stock.book_epoch)) {
          // Made on a load the record has since replaced: the book was reloaded (or is being).
          outcomes[index] = { kind: "book_behind", reason: "epoch" };
          continue;
        }
        const key = `${r.userId}\u0000${r.idempotencyKey}`;
        const holder = keyHolders.get(key) ?? claimedKeys.get(key);
        if (holder && holder.orderId !== r.orderId) {
          outcomes[index] = { kind: "key_in_use", holder };
          continue;
        }
        const t = tally.get(r.sku) ?? {
          held: stock.held,
          taken: Number(stock.epoch_taken),
          takenMax: Number(stock.epoch_taken_max),
        };
        const userKey = `${r.sku}\u0000${r.userId}`;
        const heldByUser = userHeld.get(userKey) ?? 0;
        const taken = t.taken + r.quantity;
        const takenMax = Math.max(t.takenMax, fence.taken);
        const reason =
          taken > takenMax
            ? "overlap"
            : t.held + r.quantity > stock.total
              ? "stock"
              : heldByUser + r.quantity > stock.per_user_limit
                ? "user_limit"
                : undefined;
        if (reason) {
          behind.set(r.sku, behind.get(r.sku) ?? reason);
          fenceSkus.add(r.sku);
          continue;
        }
        tally.set(r.sku, { held: t.held + r.quantity, taken, takenMax });
        userHeld.set(userKey, heldByUser + r.quantity);
        claimedKeys.set(key, { orderId: r.orderId, sku: r.sku, quantity: r.quantity });
      }
      // A book caught behind on a SKU: none of that SKU's reservations in this batch is trusted.
      batch.forEach(({ reservation: r }, index) => {
        const reason = behind.get(r.sku);
        if (reason && outcomes[index]!.kind === "inserted") outcomes[index] = { kind: "book_behind", reason };
      });

      const toInsert = batch.filter((_, index) => outcomes[index]!.kind === "inserted");
      const inserted = new Set(
        await insertRows(
          tx,
          toInsert.map((b) => b.reservation),
        ),
      );
      const applied = new Map<string, { units: number; taken: number; takenMax: number }>();
      batch.forEach(({ reservation: r, fence }, index) => {
        if (outcomes[index]!.kind !== "inserted") return;
        if (!inserted.has(r.orderId)) {
          // Another transaction took the user's key first (the unique index on live keys).
          outcomes[index] = { kind: "key_in_use", holder: undefined };
          return;
        }
        const stock = stocks.get(r.sku)!;
        const a = applied.get(r.sku) ?? {
          units: 0,
          taken: Number(stock.epoch_taken),
          takenMax: Number(stock.epoch_taken_max),
        };
        applied.set(r.sku, {
          units: a.units + r.quantity,
          taken: a.taken + r.quantity,
          takenMax: Math.max(a.takenMax, fence.taken),
        });
      });
      if (applied.size > 0) {
        const entries = [...applied];
        await tx.query(
          `UPDATE inventory.stock AS s
           SET held = s.held + u.units, epoch_taken = u.taken, epoch_taken_max = u.taken_max
           FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS u(sku, units, taken, taken_max)
           WHERE s.sku = u.sku`,
          [
            entries.map(([sku]) => sku),
            entries.map(([, a]) => a.units),
            entries.map(([, a]) => a.taken),
            entries.map(([, a]) => a.takenMax),
          ],
        );
      }
      if (fenceSkus.size > 0) {
        await tx.query(
          `UPDATE inventory.stock SET book_epoch = book_epoch + 1, epoch_taken = 0, epoch_taken_max = 0
           WHERE sku = ANY($1::text[])`,
          [[...fenceSkus]],
        );
      }
      return outcomes;
    });
  }

  /** Live units per `sku \0 user` for these users on these SKUs. */
  private async liveUnitsByUser(
    tx: Sql,
    skus: readonly string[],
    users: readonly string[],
  ): Promise<Map<string, number>> {
    const rows = await tx.query<{ sku: string; user_id: string; units: number }>(
      `SELECT sku, user_id, sum(quantity)::int AS units FROM inventory.reservations
       WHERE sku = ANY($1::text[]) AND user_id = ANY($2::text[]) AND status <> 'released'
       GROUP BY sku, user_id`,
      [skus, [...new Set(users)]],
    );
    return new Map(rows.map((row) => [`${row.sku}\u0000${row.user_id}`, row.units]));
  }

  /** The live reservations already holding the batch's user-and-key pairs, by `user \0 key`. */
  private async liveKeyHolders(
    tx: Sql,
    batch: readonly ReservationInsert[],
  ): Promise<Map<string, KeyHolder>> {
    const rows = await tx.query<{
      order_id: string;
      sku: string;
      quantity: number;
      user_id: string;
      idempotency_key: string;
    }>(
      `SELECT order_id::text AS order_id, sku, quantity, user_id, idempotency_key FROM inventory.reservations
       WHERE status <> 'released'
         AND (user_id, idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [batch.map((b) => b.reservation.userId), batch.map((b) => b.reservation.idempotencyKey)],
    );
    return new Map(
      rows.map((row) => [
        `${row.user_id}\u0000${row.idempotency_key}`,
        { orderId: row.order_id, sku: row.sku, quantity: row.quantity },
      ]),
    );
  }

  /**
   * Releases the rows of `orderIds` that are in a state `reason` may release (see RELEASABLE),
   * returning the units to the SKU under its row lock. Returns the reservations released now.
   */
  async release(
    refs: readonly { orderId: string; sku: string }[],
    reason: ReleaseReason,
    /** The caller's transaction (an event consumer's), or a transaction of its own. */
    inTransaction?: Sql,
  ): Promise<ReleasedReservation[]> {
    if (refs.length === 0) return [];
    const work = async (tx: Sql) => {
      // Stock rows first, in SKU order, as inserts take them: no deadlock between the two.
      await tx.query("SELECT sku FROM inventory.stock WHERE sku = ANY($1::text[]) ORDER BY sku FOR UPDATE", [
        [...new Set(refs.map((r) => r.sku))].sort(),
      ]);
      const released = await tx.query<{
        order_id: string;
        sku: string;
        quantity: number;
        user_id: string;
      }>(
        `UPDATE inventory.reservations SET status = 'released', release_reason = $2, updated_at = now()
         WHERE order_id = ANY($1::bigint[]) AND status = ANY($3::text[])
           -- Expiry by the database's clock too: a book whose clock runs ahead expires nothing early.
           AND ($2 <> 'expired' OR expires_at <= now())
         RETURNING order_id::text AS order_id, sku, quantity, user_id`,
        [refs.map((r) => r.orderId).sort(), reason, RELEASABLE[reason]],
      );
      const units = new Map<string, number>();
      for (const row of released) units.set(row.sku, (units.get(row.sku) ?? 0) + row.quantity);
      if (units.size > 0) {
        await tx.query(
          `UPDATE inventory.stock AS s SET held = s.held - u.units
           FROM unnest($1::text[], $2::int[]) AS u(sku, units) WHERE s.sku = u.sku`,
          [[...units.keys()], [...units.values()]],
        );
      }
      return released.map((row) => ({
        orderId: row.order_id,
        sku: row.sku,
        userId: row.user_id,
        quantity: row.quantity,
      }));
    };
    return inTransaction ? work(inTransaction) : this.db.transaction(work);
  }

  /** reserved | accepted → confirmed for these ids. Returns the rows of all of them afterwards. */
  async confirm(orderIds: readonly string[]): Promise<Map<string, RecordedReservation>> {
    if (orderIds.length === 0) return new Map();
    await this.db.query(
      `UPDATE inventory.reservations SET status = 'confirmed', updated_at = now()
       WHERE order_id = ANY($1::bigint[]) AND status IN ('reserved', 'accepted')`,
      [[...orderIds].sort()],
    );
    return this.rows(orderIds);
  }

  /** reserved → accepted. Returns the row afterwards (absent: never written). */
  async accept(orderId: string): Promise<RecordedReservation | undefined> {
    await this.db.query(
      `UPDATE inventory.reservations SET status = 'accepted', updated_at = now()
       WHERE order_id = $1 AND status = 'reserved'`,
      [orderId],
    );
    return (await this.rows([orderId])).get(orderId);
  }
}

async function insertRows(tx: Sql, reservations: readonly Reservation[]): Promise<string[]> {
  if (reservations.length === 0) return [];
  // One statement for the whole batch: arrays bound as parameters and unnested server-side. Any
  // conflict (the order id, or the user's key on a live row) leaves that row out. Rows go in
  // sorted by (user, key): each insert takes its entry of the unique index on live keys, and two
  // processes' batches taking shared entries in opposite orders would deadlock (one batch aborted).
  reservations = [...reservations].sort(
    (a, b) => compareText(a.userId, b.userId) || compareText(a.idempotencyKey, b.idempotencyKey),
  );
  const rows = await tx.query<{ order_id: string }>(
    `INSERT INTO inventory.reservations
       (order_id, sku, user_id, quantity, idempotency_key, status, created_at, expires_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                          $7::timestamptz[], $8::timestamptz[])
     ON CONFLICT DO NOTHING
     RETURNING order_id::text AS order_id`,
    [
      reservations.map((r) => r.orderId),
      reservations.map((r) => r.sku),
      reservations.map((r) => r.userId),
      reservations.map((r) => r.quantity),
      reservations.map((r) => r.idempotencyKey),
      reservations.map(() => "reserved"),
      reservations.map((r) => new Date(r.reservedAtMs).toISOString()),
      reservations.map((r) => new Date(r.expiresAtMs).toISOString()),
    ],
  );
  return rows.map((row) => row.order_id);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
