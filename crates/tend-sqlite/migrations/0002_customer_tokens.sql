-- Customer portal: magic-link tokens (single use) and portal sessions, stored as SHA-256.
CREATE TABLE customer_tokens (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL CHECK (kind IN ('magic','session')),
    token_hash BLOB NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX customer_tokens_customer ON customer_tokens(customer_id);
