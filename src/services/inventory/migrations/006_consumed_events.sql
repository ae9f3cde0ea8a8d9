-- Ids of events the inventory has applied (order cancellations, which return stock): a
-- redelivered event changes nothing.
CREATE TABLE inventory.processed_events (
  event_id     text PRIMARY KEY,
  event_type   text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
