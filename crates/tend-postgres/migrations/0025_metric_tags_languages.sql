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

TRUNCATE metric_tickets, metric_rollups;
UPDATE metric_state SET last_seq = 0, generation = generation + 1, rebuilding = false WHERE id = 1;
ALTER TABLE metric_tickets ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE metric_tickets ADD COLUMN language TEXT;

ALTER TABLE metric_rollups ADD COLUMN tag TEXT NOT NULL DEFAULT '';
ALTER TABLE metric_rollups ADD COLUMN language TEXT NOT NULL DEFAULT '';
ALTER TABLE metric_rollups DROP CONSTRAINT metric_rollups_pkey;
ALTER TABLE metric_rollups ADD PRIMARY KEY (grain, period_start, channel, priority, group_id, brand_id, assignee_id, tag, language);

-- A ticket's language dimension: its requester's language when the metrics first computed
-- the ticket (within a tailer tick of its creation). Not emptied by rebuilds, so a later
-- change of the customer's language does not move old tickets. Backfilled with today's
-- languages for the tickets that exist now.
CREATE TABLE metric_ticket_languages (
    ticket_id BIGINT PRIMARY KEY,
    language TEXT NOT NULL
);
INSERT INTO metric_ticket_languages (ticket_id, language)
    SELECT t.id, c.language FROM tickets t JOIN customers c ON c.id = t.requester_id
    WHERE c.language IS NOT NULL AND c.language <> '';
