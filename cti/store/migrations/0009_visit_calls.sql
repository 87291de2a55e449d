-- Automatic return visits (回访) by the engine's dialler.
--
-- fallback: why the automatic survey handed the visit to the agents (refused,
-- no_input, hung_up, asked_for_agent); NULL while the automatic survey may still
-- make it.  A visit with a fallback is never dialled automatically again.
-- call_id on a result: the engine's call that made the attempt.

ALTER TABLE return_visits ADD COLUMN fallback text;
ALTER TABLE return_visit_results ADD COLUMN call_id text;

-- The dialler's scan: automatic visits that may be due.
CREATE INDEX return_visits_automatic ON return_visits (due_from)
    WHERE status = 'pending' AND NOT person_required AND fallback IS NULL;
