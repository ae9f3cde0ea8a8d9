-- GET /admin/orders?status=: the newest orders of one status, keyset on id.
--
-- On (status, id DESC) the planner could answer `WHERE status = $1 ORDER BY id DESC LIMIT n`
-- from either index: this one, or the primary key walked backwards with status as a filter. It
-- costs the second as if each status were spread evenly over time, but statuses are not: the
-- newest orders are mostly `created`, so listing `cancelled` or `paid` walked back through every
-- recent order first (100,054 rows read for 100 returned at 1,000,000 orders, 37 ms). The listing
-- now orders by -id, which only this index provides, so every plan for it starts at the status's
-- newest order and stops after n rows (docs/performance.md, "The operator listing").
--
-- Building it blocks writes to the table until it is done (2.5 s for a million orders on
-- PostgreSQL): run this migration before a sale, not during one.
DROP INDEX orders.orders_status_id;
CREATE INDEX orders_status_newest ON orders.orders (status, (-id));
