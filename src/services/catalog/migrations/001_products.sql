-- The product catalog. Ids are snowflakes minted by the catalog service (shard 0: not sharded).
CREATE TABLE catalog.products (
  id          bigint PRIMARY KEY,
  sku         text NOT NULL UNIQUE,
  name        text NOT NULL,
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  currency    char(3) NOT NULL,
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Public listing pages by id (keyset pagination) use the primary key; lookups by SKU use the
-- UNIQUE index above.
