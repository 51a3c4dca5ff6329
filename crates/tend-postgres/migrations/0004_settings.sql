-- Settings kept as JSON documents by key (e.g. "sla": calendar and policies).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
