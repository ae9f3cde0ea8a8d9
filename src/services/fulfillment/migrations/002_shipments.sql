-- One row per order that was ever paid (or refunded before its payment was seen here): the
-- shipment, and the work still to do for it. Its status moves only forward, by conditional
-- updates, and every move that tells other services something writes its event to the outbox in
-- the same transaction.
--
--   requested  ──carrier took it──▶ in_transit ──carrier delivered──▶ delivered
--       │                              │
--       └──────── refund ──────▶ cancelling ──carrier called it back──▶ cancelled
--   (a refund before the carrier was ever asked goes straight to cancelled)
CREATE TABLE fulfillment.shipments (
  id                   text PRIMARY KEY,
  -- One shipment per order, ever: a second order.paid (redelivered, or published twice) finds it.
  order_id             text NOT NULL UNIQUE,
  user_id              text NOT NULL,
  sku                  text NOT NULL,
  quantity             integer NOT NULL CHECK (quantity > 0),
  status               text NOT NULL
                       CHECK (status IN ('requested', 'in_transit', 'delivered', 'cancelling', 'cancelled')),
  -- When the sweeps next act on this row: send it to the carrier (requested), ask whether it has
  -- arrived (in_transit: the expected delivery first), call it back (cancelling). Pushed ahead while
  -- a process works on it (a lease) and after a failed carrier call (backoff). Kept in the database
  -- so that nothing waited for is lost when a process dies.
  due_at               timestamptz NOT NULL,
  -- Carrier calls tried for the current step (for the backoff), and the last failure.
  attempts             integer NOT NULL DEFAULT 0,
  last_error           text,
  -- A create may have reached the carrier (set before the first call, in its own transaction): a
  -- refund must then go through the carrier, which may hold the parcel.
  dispatch_attempted   boolean NOT NULL DEFAULT false,
  carrier              text,
  tracking_number      text,
  expected_delivery_at timestamptz,
  requested_at         timestamptz NOT NULL DEFAULT now(),
  shipped_at           timestamptz,
  delivered_at         timestamptz,
  cancelled_at         timestamptz
);

-- The sweeps' one query shape: WHERE status = $1 AND due_at <= now() ORDER BY due_at.
CREATE INDEX shipments_due ON fulfillment.shipments (status, due_at);
