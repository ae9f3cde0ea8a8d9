-- The database re-checks every reservation the book (memory or Redis) made, so a book that went
-- back in time (a Redis restored from an older snapshot, a lagging replica promoted) can never
-- oversell, and is caught and reloaded from these rows.
--
-- held: units of live reservations (reserved, accepted or confirmed), kept in step with the rows
--   by the same transactions; never above the stock.
-- book_epoch: the epoch of the book's current load of this SKU. A reservation made on an older
--   load is refused; bumping it fences every book state loaded before.
-- epoch_taken / epoch_taken_max: units of reservations inserted in this epoch, and the largest
--   "taken" count the book reported for one. The book hands each reservation a disjoint range of
--   units, so the sum can only exceed the largest count if two reservations claimed the same units:
--   proof that the book forgot some.
ALTER TABLE inventory.stock
  ADD COLUMN held integer NOT NULL DEFAULT 0,
  ADD COLUMN book_epoch bigint NOT NULL DEFAULT 1,
  ADD COLUMN epoch_taken bigint NOT NULL DEFAULT 0,
  ADD COLUMN epoch_taken_max bigint NOT NULL DEFAULT 0;

UPDATE inventory.stock AS s
SET held = COALESCE((SELECT sum(r.quantity) FROM inventory.reservations AS r
                     WHERE r.sku = s.sku AND r.status <> 'released'), 0);

ALTER TABLE inventory.stock ADD CONSTRAINT stock_held_within_total CHECK (held >= 0 AND held <= total);

-- 'accepted': an intake other than the one that reserved answered 202 for the order (a replay with
-- the same Idempotency-Key); from then on it can no longer be released as not accepted.
ALTER TABLE inventory.reservations DROP CONSTRAINT reservations_status_check;
ALTER TABLE inventory.reservations ADD CONSTRAINT reservations_status_check
  CHECK (status IN ('reserved', 'accepted', 'confirmed', 'released'));

-- The per-user limit is re-checked per batch: the live units of the batch's users on a SKU.
-- It also serves the by-SKU reads of live reservations, which the index it replaces served.
CREATE INDEX reservations_live_by_sku_user ON inventory.reservations (sku, user_id) WHERE status <> 'released';
DROP INDEX inventory.reservations_live_by_sku;
