-- Payments, the provider's notifications as received, and refunds (docs/architecture.md, Payments).

-- One row per attempt to pay an order. `amount_cents`/`currency` are what the order costs (asked
-- of the provider); `paid_cents`/`paid_currency` what the provider says was paid.
CREATE TABLE payments.payments (
  id                  bigint PRIMARY KEY,
  order_id            text NOT NULL,
  user_id             text NOT NULL,
  amount_cents        bigint NOT NULL CHECK (amount_cents >= 0),
  currency            text NOT NULL,
  status              text NOT NULL CHECK (status IN ('open', 'succeeded', 'failed', 'flagged', 'refunded')),
  provider_payment_id text UNIQUE,
  redirect_url        text,
  paid_cents          bigint,
  paid_currency       text,
  failure_reason      text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
-- At most one open payment per order: asking again returns it; after a decline a new one may open.
CREATE UNIQUE INDEX payments_one_open_per_order ON payments.payments (order_id) WHERE status = 'open';
CREATE INDEX payments_by_order ON payments.payments (order_id);
-- What an operator must look at (GET /admin/payments?flagged=true).
CREATE INDEX payments_flagged ON payments.payments (id) WHERE status = 'flagged';

-- Every notification taken, by the provider's event id: a replayed id conflicts and is refused.
CREATE TABLE payments.webhook_events (
  event_id            text PRIMARY KEY,
  kind                text NOT NULL,
  payment_id          text NOT NULL,
  provider_payment_id text NOT NULL,
  notification        jsonb NOT NULL,
  received_at         timestamptz NOT NULL DEFAULT now(),
  processed_at        timestamptz
);

-- One refund per payment, ever (the primary key), made with one idempotency key at the provider
-- however often it is attempted. `next_attempt_at` is also the lease of an attempt in flight: an
-- attempt pushes it past its own timeout, so a process that dies mid-call leaves it due again.
CREATE TABLE payments.refunds (
  payment_id          bigint PRIMARY KEY REFERENCES payments.payments (id),
  order_id            text NOT NULL,
  provider_payment_id text NOT NULL,
  amount_cents        bigint NOT NULL CHECK (amount_cents >= 0),
  currency            text NOT NULL,
  reason              text NOT NULL CHECK (reason IN ('order_cancelled', 'already_paid', 'requested')),
  idempotency_key     text NOT NULL UNIQUE,
  status              text NOT NULL CHECK (status IN ('pending', 'submitted', 'succeeded')),
  provider_refund_id  text,
  attempts            integer NOT NULL DEFAULT 0,
  next_attempt_at     timestamptz NOT NULL DEFAULT now(),
  last_error          text,
  requested_at        timestamptz NOT NULL DEFAULT now(),
  succeeded_at        timestamptz
);
CREATE INDEX refunds_due ON payments.refunds (next_attempt_at) WHERE status = 'pending';
