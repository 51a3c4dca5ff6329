-- Metrics (issue 8): each ticket's facts and its contribution to the roll-ups, roll-up rows
-- per grain (0 UTC hour / 1 UTC day by channel x priority x group x brand; 2 UTC hour / 3 UTC
-- day by assignee), and the tailer's checkpoint. Everything here is derived from `events`:
-- `tend metrics rebuild` recomputes it.

-- The tailer's checkpoint: every event up to last_seq is in the roll-ups. A rebuild bumps
-- the generation, so a batch computed before it is refused after it.
CREATE TABLE metric_state (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT NOT NULL,
    generation BIGINT NOT NULL,
    rebuilding BOOLEAN NOT NULL
);
INSERT INTO metric_state (id, last_seq, generation, rebuilding) VALUES (1, 0, 0, false);

-- One row per ticket: its facts now, and `contribution`, the cells it adds to the hourly
-- roll-ups (subtracted again when the ticket changes).
CREATE TABLE metric_tickets (
    ticket_id BIGINT PRIMARY KEY,
    channel TEXT,
    priority TEXT,
    group_id BIGINT,
    brand_id BIGINT,
    assignee_id BIGINT,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    first_response_at TIMESTAMPTZ,
    first_solved_at TIMESTAMPTZ,
    solved_at TIMESTAMPTZ,
    replies INTEGER NOT NULL,
    reopens INTEGER NOT NULL,
    merged BOOLEAN NOT NULL,
    fcr BOOLEAN,
    contribution BYTEA NOT NULL
);

-- Roll-up rows: counters as columns (backlog sums them in SQL), distributions as one blob
-- of stored sketches. '' / 0 in a dimension column means "not set" (or not kept by the grain).
CREATE TABLE metric_rollups (
    grain SMALLINT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    channel TEXT NOT NULL,
    priority TEXT NOT NULL,
    group_id BIGINT NOT NULL,
    brand_id BIGINT NOT NULL,
    assignee_id BIGINT NOT NULL,
    created BIGINT NOT NULL,
    solves BIGINT NOT NULL,
    reopens BIGINT NOT NULL,
    agent_replies BIGINT NOT NULL,
    fcr_tickets BIGINT NOT NULL,
    fcr_resolved BIGINT NOT NULL,
    one_touch_tickets BIGINT NOT NULL,
    one_touch_resolved BIGINT NOT NULL,
    solved_replies BIGINT NOT NULL,
    reopened_solved BIGINT NOT NULL,
    sla_first_reply_met BIGINT NOT NULL,
    sla_next_reply_met BIGINT NOT NULL,
    sla_periodic_update_met BIGINT NOT NULL,
    sla_resolution_met BIGINT NOT NULL,
    sla_first_reply_breached BIGINT NOT NULL,
    sla_next_reply_breached BIGINT NOT NULL,
    sla_periodic_update_breached BIGINT NOT NULL,
    sla_resolution_breached BIGINT NOT NULL,
    sketches BYTEA NOT NULL,
    PRIMARY KEY (grain, period_start, channel, priority, group_id, brand_id, assignee_id)
);
