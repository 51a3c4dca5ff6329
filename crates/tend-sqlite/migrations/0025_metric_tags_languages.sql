-- Metrics (issue 8): volume by tag and by language. Roll-up rows get two more key columns,
-- `tag` (grains 4 UTC hour / 5 UTC day, by tag alone: a ticket counts once under each tag
-- it is counted with) and `language` (grains 6 / 7, by language alone); '' = not set or not
-- kept by the grain. Ticket rows keep the tag set and language their contribution was spread
-- under, so it can be taken out again.
--
-- Backfill: the roll-ups are derived from the events, so they are emptied and the tailer's
-- checkpoint goes back to 0 (a new generation: a rebuild still running stops). The tailer
-- then recomputes every ticket, tags and languages included, in the background; on a large
-- database run `tend metrics rebuild` once instead (much faster, with a progress bar).
-- Reports are incomplete until one of them has finished (docs/metrics.md). Old rows
-- cannot simply be kept: their tickets' stored contributions were never added to tag and
-- language rows, so taking them out again would drive those rows negative.

DELETE FROM metric_tickets;
ALTER TABLE metric_tickets ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE metric_tickets ADD COLUMN language TEXT;

CREATE TABLE metric_rollups_0025 (
    grain INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    group_id INTEGER NOT NULL,
    brand_id INTEGER NOT NULL,
    assignee_id INTEGER NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL,
    solves INTEGER NOT NULL,
    reopens INTEGER NOT NULL,
    agent_replies INTEGER NOT NULL,
    fcr_tickets INTEGER NOT NULL,
    fcr_resolved INTEGER NOT NULL,
    one_touch_tickets INTEGER NOT NULL,
    one_touch_resolved INTEGER NOT NULL,
    solved_replies INTEGER NOT NULL,
    reopened_solved INTEGER NOT NULL,
    sla_first_reply_met INTEGER NOT NULL,
    sla_next_reply_met INTEGER NOT NULL,
    sla_periodic_update_met INTEGER NOT NULL,
    sla_resolution_met INTEGER NOT NULL,
    sla_first_reply_breached INTEGER NOT NULL,
    sla_next_reply_breached INTEGER NOT NULL,
    sla_periodic_update_breached INTEGER NOT NULL,
    sla_resolution_breached INTEGER NOT NULL,
    sketches BLOB NOT NULL,
    PRIMARY KEY (grain, period_start, channel, priority, group_id, brand_id, assignee_id, tag, language)
) WITHOUT ROWID;
DROP TABLE metric_rollups;
ALTER TABLE metric_rollups_0025 RENAME TO metric_rollups;
UPDATE metric_state SET last_seq = 0, generation = generation + 1, rebuilding = 0 WHERE id = 1;

-- A ticket's language dimension: its requester's language when the metrics first computed
-- the ticket (within a tailer tick of its creation). Not emptied by rebuilds, so a later
-- change of the customer's language does not move old tickets. Backfilled with today's
-- languages for the tickets that exist now.
CREATE TABLE metric_ticket_languages (
    ticket_id INTEGER PRIMARY KEY,
    language TEXT NOT NULL
);
INSERT INTO metric_ticket_languages (ticket_id, language)
    SELECT t.id, c.language FROM tickets t JOIN customers c ON c.id = t.requester_id
    WHERE c.language IS NOT NULL AND c.language <> '';
