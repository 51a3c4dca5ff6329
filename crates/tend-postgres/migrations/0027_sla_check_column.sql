-- Issue 5: each ticket's next SLA check lives on its row instead of a keyed `sla.check` job
-- per ticket (a recompute pass after a calendar change wrote ~1M job upserts; now it writes
-- one indexed column per changed ticket). `sla_check_us`: when the ticket's check runs next,
-- microseconds since the epoch (NULL: none scheduled). `sla_lease_us`: while a worker runs
-- the check, until when it holds it (NULL: nobody); the claim also moves `sla_check_us` to
-- the lease's end, so a dead worker's check runs again then. Workers claim due checks through
-- the partial index with FOR UPDATE SKIP LOCKED.
ALTER TABLE tickets ADD COLUMN sla_check_us BIGINT;
ALTER TABLE tickets ADD COLUMN sla_lease_us BIGINT;
CREATE INDEX tickets_sla_check ON tickets (sla_check_us) WHERE sla_check_us IS NOT NULL;
-- Queued checks move onto their tickets (the earliest per ticket), then leave the queue.
UPDATE tickets t SET sla_check_us = q.at
FROM (SELECT (payload->>'ticket_id')::bigint AS id,
             (extract(epoch FROM min(run_at)) * 1000000)::bigint AS at
      FROM jobs WHERE kind = 'sla.check' AND state = 'queued' GROUP BY 1) q
WHERE t.id = q.id;
DELETE FROM jobs WHERE kind = 'sla.check' AND state = 'queued';
