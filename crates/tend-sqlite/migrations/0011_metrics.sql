-- Metrics (issue 8): each ticket's facts and its contribution to the roll-ups, roll-up rows
-- per grain (0 UTC hour / 1 UTC day by channel x priority x group x brand; 2 UTC hour / 3 UTC
-- day by assignee), and the tailer's checkpoint. Everything here is derived from `events`:
-- `tend metrics rebuild` recomputes it. Times are microseconds since the epoch (UTC).

-- The tailer's checkpoint: every event up to last_seq is in the roll-ups. A rebuild bumps
-- the generation, so a batch computed before it is refused after it.
CREATE TABLE metric_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    rebuilding INTEGER NOT NULL
);
INSERT INTO metric_state (id, last_seq, generation, rebuilding) VALUES (1, 0, 0, 0);

-- One row per ticket: its facts now, and `contribution`, the cells it adds to the hourly
-- roll-ups (subtracted again when the ticket changes).
CREATE TABLE metric_tickets (
    ticket_id INTEGER PRIMARY KEY,
    channel TEXT,
    priority TEXT,
    group_id INTEGER,
    brand_id INTEGER,
    assignee_id INTEGER,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    first_response_at INTEGER,
    first_solved_at INTEGER,
    solved_at INTEGER,
    replies INTEGER NOT NULL,
    reopens INTEGER NOT NULL,
    merged INTEGER NOT NULL,
    fcr INTEGER,
    contribution BLOB NOT NULL
);

-- Roll-up rows: counters as columns (backlog sums them in SQL), distributions as one blob
-- of stored sketches. '' / 0 in a dimension column means "not set" (or not kept by the grain).
CREATE TABLE metric_rollups (
    grain INTEGER NOT NULL,
    period_start INTEGER NOT NULL,
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    group_id INTEGER NOT NULL,
    brand_id INTEGER NOT NULL,
    assignee_id INTEGER NOT NULL,
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
    PRIMARY KEY (grain, period_start, channel, priority, group_id, brand_id, assignee_id)
) WITHOUT ROWID;
