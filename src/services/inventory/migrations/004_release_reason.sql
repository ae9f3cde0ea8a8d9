-- Why a reservation was released: 'not_accepted' (the intake could not append the order and
-- answered 503), 'expired' (no stored order confirmed it in time) or 'cancelled'. An order worker
-- that later meets a 'not_accepted' order in the queue (its append landed after all) drops it: the
-- buyer was told it was not accepted and retries with a new reservation.
ALTER TABLE inventory.reservations ADD COLUMN release_reason text
  CHECK (release_reason IN ('not_accepted', 'expired', 'cancelled'));
