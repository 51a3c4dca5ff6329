-- Satisfaction surveys: definitions, invitations (one per surveyed solve, with the ticket's
-- agent/group/channel as they were at send time; only the SHA-256 of the link token), and
-- responses (one per invitation: never counted twice).

CREATE TABLE surveys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('nps','csat','ces')),
    scale INTEGER CHECK (scale IN (2,3,5)),
    question TEXT NOT NULL DEFAULT '{}',
    follow_up TEXT NOT NULL DEFAULT '{}',
    delay_hours INTEGER NOT NULL DEFAULT 24,
    throttle_days INTEGER NOT NULL DEFAULT 30,
    sample_rate REAL NOT NULL DEFAULT 1.0 CHECK (sample_rate >= 0 AND sample_rate <= 1),
    expires_days INTEGER NOT NULL DEFAULT 14,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    CHECK ((kind = 'csat') = (scale IS NOT NULL))
);

CREATE TABLE survey_invitations (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    kind TEXT NOT NULL,
    ticket_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    agent_id INTEGER,
    group_id INTEGER,
    channel TEXT NOT NULL,
    brand_id INTEGER,
    send_key TEXT NOT NULL UNIQUE,
    token_hash BLOB NOT NULL UNIQUE,
    sent_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    responded INTEGER NOT NULL DEFAULT 0
);
-- Throttling: the customer's latest survey of a kind.
CREATE INDEX survey_invitations_customer ON survey_invitations(customer_id, kind, sent_at);
CREATE INDEX survey_invitations_sent ON survey_invitations(kind, sent_at);

CREATE TABLE survey_responses (
    id INTEGER PRIMARY KEY,
    invitation_id INTEGER NOT NULL UNIQUE REFERENCES survey_invitations(id),
    score INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    edits INTEGER NOT NULL DEFAULT 0,
    follow_up_ticket_id INTEGER
);
CREATE INDEX survey_responses_created ON survey_responses(created_at);

-- How far the event log has been scanned for solves (one row, made with the first survey).
CREATE TABLE survey_scan (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
