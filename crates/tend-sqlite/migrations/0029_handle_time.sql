-- Issue 8: handle time. Agents may log time on a reply or note (`time_spent_seconds` in the
-- `message_added` event; no message column). The roll-ups count, at the last solve of each
-- solved ticket with time logged, its handle time and the ticket (docs/metrics.md). Old rows
-- get 0: no event before this migration carries time, so they are already right.
ALTER TABLE metric_rollups ADD COLUMN handle_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE metric_rollups ADD COLUMN handled_tickets INTEGER NOT NULL DEFAULT 0;
