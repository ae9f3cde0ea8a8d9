-- Stock put up for sale per SKU, with the sale's terms that every reservation is checked against.
CREATE TABLE inventory.stock (
  sku            text PRIMARY KEY,
  total          integer NOT NULL CHECK (total >= 0),
  per_user_limit integer NOT NULL CHECK (per_user_limit > 0),
  starts_at      timestamptz NOT NULL,
  ends_at        timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);

-- One row per reservation, named by the order id it was made for. Written (in group-committed
-- batches) before the client hears 202, so the in-memory stock ledger can be rebuilt after a crash.
CREATE TABLE inventory.reservations (
  order_id        bigint PRIMARY KEY,
  sku             text NOT NULL REFERENCES inventory.stock (sku),
  user_id         text NOT NULL,
  quantity        integer NOT NULL CHECK (quantity > 0),
  idempotency_key text NOT NULL,
  status          text NOT NULL CHECK (status IN ('reserved', 'confirmed', 'released')),
  expires_at      timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Start-up loads the live reservations; a user's key is unique among them (a safety net: the
-- ledger already refuses duplicates before anything is written).
CREATE UNIQUE INDEX reservations_live_idempotency
  ON inventory.reservations (user_id, idempotency_key) WHERE status <> 'released';
