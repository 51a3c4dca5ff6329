-- Knowledge-base self-service (issue 6): compact raw events with daily roll-ups, deflection
-- sessions, auto-reply tokens. Nothing personal: queries are normalised and cut to 100
-- characters, sessions are random ids without client addresses, tokens are SHA-256.

-- Raw events (kind: search | view | click | ticket; source: help | suggest | form | email).
CREATE TABLE kb_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    article_id INTEGER,
    query TEXT,
    hits INTEGER
);
CREATE INDEX kb_events_at ON kb_events(at);

-- Daily roll-ups of kb_events (day = days since 1970-01-01 UTC; article_id 0 = none),
-- written in the event's transaction.
CREATE TABLE kb_daily (
    day INTEGER NOT NULL,
    metric TEXT NOT NULL,
    source TEXT NOT NULL,
    article_id INTEGER NOT NULL DEFAULT 0,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, metric, source, article_id)
) WITHOUT ROWID;

-- Zero-result help-center searches per day and normalised text (content gaps).
CREATE TABLE kb_gaps (
    day INTEGER NOT NULL,
    query TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, query)
) WITHOUT ROWID;

-- Deflection sessions: suggestions shown while a customer typed a request.
CREATE TABLE kb_deflect_sessions (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    day INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    query TEXT NOT NULL,
    hits INTEGER NOT NULL,
    asked INTEGER NOT NULL DEFAULT 1,
    clicks INTEGER NOT NULL DEFAULT 0,
    ticket_id INTEGER
);
-- Covering indexes for the report: outcomes per day, and zero-result texts per day.
CREATE INDEX kb_deflect_sessions_day ON kb_deflect_sessions(day, hits, clicks, ticket_id, last_at);
CREATE INDEX kb_deflect_sessions_gaps ON kb_deflect_sessions(day, hits, query) WHERE hits = 0;

-- The auto-reply of a ticket and its one-click "this solved my problem" token.
CREATE TABLE kb_auto_replies (
    ticket_id INTEGER PRIMARY KEY,
    token_hash BLOB NOT NULL UNIQUE,
    article_ids TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    sent_day INTEGER NOT NULL,
    used_at INTEGER,
    used_day INTEGER
);
CREATE INDEX kb_auto_replies_sent ON kb_auto_replies(sent_day);
CREATE INDEX kb_auto_replies_used ON kb_auto_replies(used_day);

-- Feedback by time, for the helpful rate of a range.
CREATE INDEX kb_feedback_at ON kb_feedback(at);
