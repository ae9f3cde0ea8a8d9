-- Orders, sharded by user: this schema exists on every physical shard, and an order lives on the
-- shard its snowflake id names.
CREATE TABLE orders.orders (
  id              bigint PRIMARY KEY,
  user_id         text NOT NULL,
  sku             text NOT NULL,
  quantity        integer NOT NULL CHECK (quantity > 0),
  price_cents     integer NOT NULL CHECK (price_cents >= 0),
  currency        char(3) NOT NULL,
  status          text NOT NULL CHECK (status IN ('created', 'paid', 'shipped', 'completed', 'cancelled', 'refunded')),
  idempotency_key text NOT NULL,
  -- [{status, at, reason?}] in the order they happened, pending (accepted) first.
  history         jsonb NOT NULL,
  accepted_at     timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- GET /me/orders: one user's orders, newest first (keyset on id).
CREATE INDEX orders_user_id_id ON orders.orders (user_id, id DESC);
-- GET /admin/orders?status=: newest first per status, scattered over the shards.
CREATE INDEX orders_status_id ON orders.orders (status, id DESC);
