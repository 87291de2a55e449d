-- The engine's durable state.  Asterisk is the truth about live calls; this
-- database is the truth about everything else (DESIGN.md, decision 3).

CREATE TABLE calls (
    call_id          text PRIMARY KEY,
    caller_number    text NOT NULL DEFAULT '',
    caller_name      text NOT NULL DEFAULT '',
    dialled          text NOT NULL DEFAULT '',
    original_number  text,              -- the retired line the call came in on
    department       text,              -- original department, for pre-routing the ticket
    line_name        text,
    route            text,              -- routing decision: queue, menu, withdrawn, not_in_service ...
    menu_path        jsonb NOT NULL DEFAULT '[]',
    tags             jsonb NOT NULL DEFAULT '{}',
    queue            text,
    priority         integer NOT NULL DEFAULT 0,
    first_agent      text,              -- 首接负责: the agent responsible for the call
    last_agent       text,
    arrived_at       timestamptz NOT NULL,
    routed_at        timestamptz,
    menu_exited_at   timestamptz,
    queued_at        timestamptz,
    first_offered_at timestamptz,
    answered_at      timestamptz,
    ended_at         timestamptz,
    hangup_by        text,              -- caller | agent | engine | pbx
    end_reason       text,
    outcome          text,              -- answered | abandoned | overflowed | voicemail | callback | withdrawn | not_in_service | transferred | failed
    rating           smallint,
    rating_label     text,
    rated_at         timestamptz,
    recording_ref    text,
    ticket_id        text,
    config_version   text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_caller_arrived ON calls (caller_number, arrived_at DESC);
CREATE INDEX calls_arrived ON calls (arrived_at);

-- One row per thing that happened to a call, in order: offers and their
-- outcomes, transfer legs, menu steps, recording segments.
CREATE TABLE call_events (
    id        bigserial PRIMARY KEY,
    call_id   text NOT NULL,
    at        timestamptz NOT NULL,
    kind      text NOT NULL,
    agent     text,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX call_events_call ON call_events (call_id, at, id);

CREATE TABLE agent_sessions (
    id             bigserial PRIMARY KEY,
    agent_id       text NOT NULL,
    seat           text NOT NULL,
    login_at       timestamptz NOT NULL,
    logout_at      timestamptz,
    logout_reason  text
);
CREATE UNIQUE INDEX agent_sessions_open ON agent_sessions (agent_id) WHERE logout_at IS NULL;

CREATE TABLE agent_state_changes (
    id        bigserial PRIMARY KEY,
    agent_id  text NOT NULL,
    at        timestamptz NOT NULL,
    status    text NOT NULL,
    state     text NOT NULL,
    reason    text
);
CREATE INDEX agent_state_changes_agent ON agent_state_changes (agent_id, at);

CREATE TABLE ratings (
    call_id   text PRIMARY KEY,
    level     smallint,            -- NULL: not rated
    label     text NOT NULL,
    at        timestamptz NOT NULL
);

CREATE TABLE ticket_outbox (
    id                 bigserial PRIMARY KEY,
    call_id            text NOT NULL,
    kind               text NOT NULL DEFAULT 'create',   -- create | update
    payload            jsonb NOT NULL,
    status             text NOT NULL DEFAULT 'pending',  -- pending | delivered | rejected
    attempts           integer NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    last_error         text,
    response_status    integer,
    response_body      text,
    backend_ticket_id  text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    delivered_at       timestamptz
);
CREATE INDEX ticket_outbox_due ON ticket_outbox (next_attempt_at) WHERE status = 'pending';
CREATE UNIQUE INDEX ticket_outbox_create_once ON ticket_outbox (call_id) WHERE kind = 'create';

CREATE TABLE recordings (
    id           bigserial PRIMARY KEY,
    call_id      text NOT NULL,
    name         text NOT NULL UNIQUE,    -- the Asterisk recording name
    segment      integer NOT NULL DEFAULT 1,
    agents       text[] NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL,
    duration_s   double precision,
    file_path    text,
    size_bytes   bigint,
    sha256       text,
    status       text NOT NULL DEFAULT 'recording', -- recording | fetching | stored | failed | purged
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_call ON recordings (call_id, segment);

CREATE TABLE callbacks (
    id             bigserial PRIMARY KEY,
    call_id        text NOT NULL,
    caller_number  text NOT NULL,
    queue          text,
    requested_at   timestamptz NOT NULL,
    status         text NOT NULL DEFAULT 'open',  -- open | assigned | done | failed
    assigned_to    text,
    done_at        timestamptz,
    note           text
);

CREATE TABLE config_versions (
    id            bigserial PRIMARY KEY,
    sha256        text NOT NULL,
    loaded_at     timestamptz NOT NULL,
    requested_by  text NOT NULL,
    summary       text NOT NULL DEFAULT ''
);

CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,
    role     text NOT NULL,
    action   text NOT NULL,
    target   text,
    allowed  boolean NOT NULL DEFAULT true,
    detail   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
