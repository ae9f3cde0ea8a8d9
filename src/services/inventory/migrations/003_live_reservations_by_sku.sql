-- Rebuilding a SKU's live stock (a restarted inventory, a Redis that lost its data) and
-- reconciliation read the live reservations of one SKU; released ones are most rows and never read.
CREATE INDEX reservations_live_by_sku ON inventory.reservations (sku) WHERE status <> 'released';
