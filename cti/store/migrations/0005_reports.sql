-- Reports read calls by the time they were queued (a call belongs to the
-- period it asked for a person in), and transfers and emergency hand-offs by
-- the time they started.  The call index carries every column the figures
-- read, so a month or a year is summed from the index alone once vacuumed.

CREATE INDEX calls_queued ON calls (queued_at)
    INCLUDE (queue, first_agent, answered_at, ended_at, outcome, rating, dialled, department)
    WHERE queued_at IS NOT NULL;

CREATE INDEX call_events_handoffs ON call_events (at)
    INCLUDE (kind, detail)
    WHERE kind IN ('transfer_started', 'emergency');

CREATE INDEX agent_state_changes_at ON agent_state_changes (at);

CREATE INDEX callbacks_requested ON callbacks (requested_at);
