-- The carrier simulator's own books: what a real carrier would keep on its side. It lives in its
-- own schema (never the fulfillment service's), so the service can only learn about a parcel the
-- way it would from a real carrier: through the Carrier port.
CREATE TABLE shipments (
  -- One parcel per key, ever: a repeated create answers the parcel the first one made.
  idempotency_key text PRIMARY KEY,
  tracking_number text NOT NULL UNIQUE,
  reference       text NOT NULL,
  recipient       text NOT NULL,
  items           jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- Delivered from this instant on, unless cancelled before it; judged by the database's clock so
  -- every process running the simulator agrees, and a restart changes nothing.
  deliver_at      timestamptz NOT NULL,
  cancelled_at    timestamptz
);
