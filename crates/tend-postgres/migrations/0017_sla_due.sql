-- The earliest due time of a ticket's SLA targets that are not yet met (active or already
-- breached; paused targets have no due time), in microseconds since the epoch;
-- 9223372036854775807 (i64::MAX) = no running target. Derived data: written by the `sla.check`
-- job that every ticket write schedules, read by the "SLA at risk" view, the sort by next due
-- and the operations dashboard. Not an event: the timeline keeps the SLA marks.
ALTER TABLE tickets ADD COLUMN sla_due_us BIGINT NOT NULL DEFAULT 9223372036854775807;
CREATE INDEX tickets_status_sla_due ON tickets(status, sla_due_us, id);
CREATE INDEX tickets_group_status_sla_due ON tickets(group_id, status, sla_due_us, id);
-- Queues newest first (the peers' "open tickets of a queue, newest first"): the same ordered
-- index scans per status that -updated_at has had since 0001.
CREATE INDEX tickets_status_created ON tickets(status, created_at DESC, id DESC);
CREATE INDEX tickets_group_status_created ON tickets(group_id, status, created_at DESC, id DESC);
-- Existing tickets get their next due time from one recompute pass (the `sla.recompute` job,
-- also queued whenever the SLA configuration changes or tickets are imported).
INSERT INTO jobs (kind, payload, state, run_at, max_attempts, dedupe_key)
SELECT 'sla.recompute', '{"after_id":0}'::jsonb, 'queued', now(), 5, 'sla:recompute'
WHERE EXISTS (SELECT 1 FROM settings WHERE key = 'sla');
