-- Agent password reset by e-mail: single-use tokens, stored by the SHA-256 of the secret.
CREATE TABLE password_resets (
    token_hash BLOB PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX password_resets_agent ON password_resets(agent_id);
