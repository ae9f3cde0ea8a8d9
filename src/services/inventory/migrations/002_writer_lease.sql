-- The inventory keeps its stock ledger in memory, so exactly one process may serve it per
-- database. The process that holds this lease is that one; it renews it while it runs.
CREATE TABLE inventory.writer_lease (
  id         integer PRIMARY KEY CHECK (id = 1),
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL
);
