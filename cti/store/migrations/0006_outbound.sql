-- Calls out: the missed-call callback list (漏接回拨), its attempts, return
-- visits (回访) and their results.  The older `callbacks` table stays for the
-- records written before this migration; new missed calls land here.

-- One entry per citizen number per local day; every miss of that day merged in.
CREATE TABLE callback_entries (
    key              text PRIMARY KEY,           -- number/YYYY-MM-DD
    number           text NOT NULL,
    day              date NOT NULL,
    status           text NOT NULL,              -- pending | claimed | dialling | done | failed | cleared | superseded
    queue            text,                       -- the queue of the latest miss
    misses           jsonb NOT NULL DEFAULT '[]',-- [{call_id, at, line, reason, queue}]
    skips            jsonb NOT NULL DEFAULT '[]',-- [{at, agent, reason}]
    claimed_by       text,
    claimed_at       timestamptz,
    first_missed_at  timestamptz NOT NULL,
    last_missed_at   timestamptz NOT NULL,
    deadline_at      timestamptz NOT NULL,
    next_try_at      timestamptz NOT NULL,
    closed_at        timestamptz,
    cleared_by       text,                       -- the answered call that removed the entry
    got_through      boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- A number has one open entry at most: the database holds that too.
CREATE UNIQUE INDEX callback_entries_open ON callback_entries (number)
    WHERE status IN ('pending', 'claimed', 'dialling');
CREATE INDEX callback_entries_due ON callback_entries (next_try_at) WHERE status = 'pending';
CREATE INDEX callback_entries_day ON callback_entries (day);

CREATE TABLE callback_attempts (
    key       text NOT NULL REFERENCES callback_entries (key),
    n         integer NOT NULL,                  -- 1, 2, 3 ...
    at        timestamptz NOT NULL,
    agent     text,
    outcome   text,                              -- reached | no_answer | busy | wrong_number | refused | voicemail; NULL: under way
    call_id   text,
    PRIMARY KEY (key, n)
);

CREATE TABLE return_visits (
    ticket_id        text PRIMARY KEY,
    number           text NOT NULL,
    due_from         timestamptz NOT NULL,
    due_until        timestamptz NOT NULL,
    survey           text NOT NULL,
    person_required  boolean NOT NULL,
    summary          text NOT NULL DEFAULT '',   -- the ticket's summary, shown to the agent
    status           text NOT NULL DEFAULT 'pending',  -- pending | calling | done | failed | expired
    calling_by       text,
    calling_since    timestamptz,
    requested_at     timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX return_visits_due ON return_visits (due_from) WHERE status = 'pending';

CREATE TABLE return_visit_results (
    ticket_id  text NOT NULL REFERENCES return_visits (ticket_id),
    n          integer NOT NULL,
    outcome    text NOT NULL,
    at         timestamptz NOT NULL,
    agent      text,
    answers    jsonb NOT NULL DEFAULT '[]',     -- [{question, answer}]
    recording  text,
    note       text,
    PRIMARY KEY (ticket_id, n)
);

-- Return-visit results, and the optional "call started" notice, travel through the
-- ticket outbox (exactly once, in order).
ALTER TABLE ticket_outbox DROP CONSTRAINT ticket_outbox_kind_known;
ALTER TABLE ticket_outbox ADD CONSTRAINT ticket_outbox_kind_known
    CHECK (kind IN ('create', 'update', 'return_visit', 'call_started'));
