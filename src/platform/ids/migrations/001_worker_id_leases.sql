-- Snowflake worker ids (6 bits: 0..63), leased to the processes that mint ids so that no two live
-- processes share one (src/platform/ids/pg-worker-id-leases.ts). One row per id, created here, so
-- taking an id is an UPDATE of an existing row and concurrent takers queue on its row lock.
-- holder is NULL when the id is free; minted_until_ms (Unix ms) bounds the timestamps of every id
-- minted with it so far, and stays when the holder changes.
CREATE TABLE worker_id_leases (
  worker_id       integer PRIMARY KEY CHECK (worker_id BETWEEN 0 AND 63),
  holder          text,
  expires_at      timestamptz,
  minted_until_ms bigint
);

INSERT INTO worker_id_leases (worker_id) SELECT generate_series(0, 63);
