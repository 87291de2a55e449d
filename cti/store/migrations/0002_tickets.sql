-- The ticket outbox, made ready for several senders and for updates.
--
-- idempotency_key: sent as the Idempotency-Key header; the call id for the
--   create, '<call id>:rating' for a rating update.  The backend's
--   de-duplication by this key is what makes a re-send after a crash harmless.
-- claimed_by / claim_token / claimed_at: the lease of the sender that is
--   posting the row.  A claim moves next_attempt_at past the lease, so a row
--   whose sender died becomes due again by itself.
-- rejected_at: when the backend refused the row with a 4xx.

ALTER TABLE ticket_outbox
    ADD COLUMN idempotency_key text,
    ADD COLUMN claimed_by      text,
    ADD COLUMN claim_token     uuid,
    ADD COLUMN claimed_at      timestamptz,
    ADD COLUMN rejected_at     timestamptz,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

UPDATE ticket_outbox
   SET idempotency_key = CASE WHEN kind = 'create' THEN call_id
                              ELSE call_id || ':update:' || id END
 WHERE idempotency_key IS NULL;

ALTER TABLE ticket_outbox ALTER COLUMN idempotency_key SET NOT NULL;
ALTER TABLE ticket_outbox
    ADD CONSTRAINT ticket_outbox_kind_known CHECK (kind IN ('create', 'update')),
    ADD CONSTRAINT ticket_outbox_status_known
        CHECK (status IN ('pending', 'delivered', 'rejected'));

CREATE UNIQUE INDEX ticket_outbox_key ON ticket_outbox (idempotency_key);
CREATE INDEX ticket_outbox_call ON ticket_outbox (call_id, id);
CREATE INDEX ticket_outbox_rejected ON ticket_outbox (rejected_at) WHERE status = 'rejected';
