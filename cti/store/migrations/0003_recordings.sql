-- Recording fetch state: the recordings table is the fetcher's durable work
-- queue (recordings/fetcher.py).  A row in 'finished' is due at
-- next_attempt_at; a row in 'fetching' holds a lease until next_attempt_at; a
-- 'stored' row whose Asterisk copy is not yet deleted has source_deleted false.

ALTER TABLE recordings
    ADD COLUMN format          text NOT NULL DEFAULT 'wav',
    ADD COLUMN finished_at     timestamptz,
    ADD COLUMN attempts        integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN source_deleted  boolean NOT NULL DEFAULT false,
    ADD COLUMN updated_at      timestamptz NOT NULL DEFAULT now();

CREATE INDEX recordings_due ON recordings (next_attempt_at)
    WHERE status IN ('finished', 'fetching')
       OR (status = 'stored' AND NOT source_deleted);
CREATE INDEX recordings_started ON recordings (started_at)
    WHERE status IN ('stored', 'failed');
