-- Every email the service decided to send: recorded in the transaction that handles the event that
-- calls for it, then sent by the sender loop (src/services/notifications/email-sender.ts).
-- One email per (order, kind), ever: the unique key makes a second event about the same fact (a
-- redelivery, a re-published event with a new id) record nothing.
CREATE TABLE notifications.emails (
  id              bigint PRIMARY KEY,          -- a snowflake: newest last
  order_id        text NOT NULL,
  kind            text NOT NULL,
  user_id         text NOT NULL,
  recipient       text NOT NULL,
  subject         text NOT NULL,
  text_body       text NOT NULL,
  html_body       text NOT NULL,
  message_id      text NOT NULL,               -- the same on every attempt
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
  attempts        integer NOT NULL DEFAULT 0,  -- also the fencing token of a claim
  -- When the sender may take it next: now for a new email, the backoff after a failure, or the end
  -- of a claim's lease while an attempt runs (a sender that died is replaced after it).
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz,
  CONSTRAINT one_email_per_order_and_kind UNIQUE (order_id, kind)
);

-- The sender's question: which pending emails are due? Only pending rows are indexed.
CREATE INDEX emails_due ON notifications.emails (next_attempt_at) WHERE status = 'pending';
