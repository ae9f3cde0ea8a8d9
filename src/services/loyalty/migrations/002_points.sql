-- The points ledger: every change to a user's points is one row, never updated; a balance is the
-- sum of its user's rows. One award per order, ever, and one reversal per order, ever: the unique
-- key makes a second event about the same fact (a redelivery, a re-published event with a new id)
-- change nothing.
CREATE TABLE loyalty.points_entries (
  id           bigint PRIMARY KEY,               -- a snowflake: newest last
  user_id      text NOT NULL,
  order_id     text NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('award', 'reversal')),
  points       integer NOT NULL,                 -- positive for an award, negative (or 0) for a reversal
  amount_cents bigint NOT NULL,
  currency     text NOT NULL,
  event_id     text NOT NULL,                    -- the event that made it, for an operator tracing it
  created_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT one_entry_per_order_and_kind UNIQUE (order_id, kind)
);

-- GET /me/points: a user's entries newest first, and their sum.
CREATE INDEX points_entries_by_user ON loyalty.points_entries (user_id, id DESC) INCLUDE (points);
