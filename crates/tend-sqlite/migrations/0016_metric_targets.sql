-- Metric targets and report digests (issue 8).
-- A target: a report column (metric, statistic, business hours), a comparator, a threshold
-- and a scope, kept as one JSON document (tend_core::targets::TargetDef). Its status is
-- computed from the reports engine, never stored.
CREATE TABLE metric_targets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT metric_targets_name_key UNIQUE (name)
);

-- Digests sent (e.g. 'weekly:2026-W48'): claimed in the same transaction that queues their
-- mails, so a digest goes out once even when its job runs twice or on two servers.
CREATE TABLE metric_digests (
    digest_key TEXT PRIMARY KEY,
    claimed_at INTEGER NOT NULL,
    mails INTEGER NOT NULL
) WITHOUT ROWID;

-- Drill-down from a report number to its tickets (newest first, keyset on time and id).
CREATE INDEX metric_tickets_created ON metric_tickets(created_at, ticket_id);
CREATE INDEX metric_tickets_first_response ON metric_tickets(first_response_at, ticket_id);
CREATE INDEX metric_tickets_first_solved ON metric_tickets(first_solved_at, ticket_id);
CREATE INDEX metric_tickets_solved ON metric_tickets(solved_at, ticket_id);
