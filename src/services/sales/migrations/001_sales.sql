-- Flash sales as the merchant defined them. The live stock counts belong to the inventory service.
CREATE TABLE sales.sales (
  sku            text PRIMARY KEY,
  stock          integer NOT NULL CHECK (stock >= 0),
  per_user_limit integer NOT NULL CHECK (per_user_limit > 0),
  starts_at      timestamptz NOT NULL,
  ends_at        timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
