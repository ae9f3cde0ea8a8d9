-- The order lifecycle after intake: payment deadline, the transactional outbox of order events,
-- and the events this service has consumed (payments, fulfilment), on every shard.

-- Unpaid orders are cancelled once this passes; the sweep reads only created orders, in due order.
ALTER TABLE orders.orders ADD COLUMN payment_due_at timestamptz;
UPDATE orders.orders SET payment_due_at = accepted_at + interval '15 minutes' WHERE payment_due_at IS NULL;
ALTER TABLE orders.orders ALTER COLUMN payment_due_at SET NOT NULL;
CREATE INDEX orders_unpaid_by_due ON orders.orders (payment_due_at) WHERE status = 'created';

-- Events written in the transaction that makes the change; the relay appends them to the stream
-- and deletes them (docs/order-lifecycle.md).
CREATE TABLE orders.outbox (
  id     bigserial PRIMARY KEY,
  topic  text NOT NULL,
  event  jsonb NOT NULL
);

-- Ids of events this service has applied: a redelivered event changes nothing.
CREATE TABLE orders.processed_events (
  event_id     text PRIMARY KEY,
  event_type   text NOT NULL,
  processed_at timestamptz NOT NULL DEFAULT now()
);
