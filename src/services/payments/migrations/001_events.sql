-- Events the payments service publishes, written in the transaction that makes the change; the
-- relay appends them to the stream and deletes them (src/platform/events/outbox.ts).
CREATE TABLE payments.outbox (
  id     bigserial PRIMARY KEY,
  topic  text NOT NULL,
  event  jsonb NOT NULL
);

-- Ids of events this service has applied: a redelivered event changes nothing.
CREATE TABLE payments.processed_events (
  event_id     text PRIMARY KEY,
  event_type   text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
