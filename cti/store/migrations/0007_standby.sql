-- A standby engine: the leadership lease and the API sessions that survive a takeover.
--
-- engine_leases: one row per Stasis application.  The engine that holds the row
-- (holder, until expires_at, PostgreSQL's clock) drives the application; token
-- grows by one at every change of holder and fences the requests of earlier
-- holders (cti/lease.py).
--
-- api_sessions: the bearer tokens handed out at a login (agents at the toolbar,
-- supervisors at the console), as the SHA-256 of the token: the token itself is
-- never stored.  Whichever engine is active recognises them (cti/api/sessions.py).

CREATE TABLE engine_leases (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    address     text NOT NULL DEFAULT '',
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE api_sessions (
    token_hash  bytea PRIMARY KEY,
    principal   text NOT NULL,
    role        text NOT NULL,
    seat        text,
    opened_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    closed_at   timestamptz
);
CREATE INDEX api_sessions_open ON api_sessions (principal) WHERE closed_at IS NULL;
