-- Every change an admin made to a running sale (PATCH /admin/sales/:sku): when, who, and the
-- terms before and after. Newest first per SKU for GET /admin/sales/:sku.
CREATE TABLE sales.sale_changes (
  id            bigserial PRIMARY KEY,
  sku           text NOT NULL REFERENCES sales.sales (sku),
  changed_at    timestamptz NOT NULL DEFAULT now(),
  changed_by    text NOT NULL,
  stock_before  integer NOT NULL,
  stock_after   integer NOT NULL,
  ends_before   timestamptz NOT NULL,
  ends_after    timestamptz NOT NULL
);
CREATE INDEX sale_changes_by_sku ON sales.sale_changes (sku, id DESC);
