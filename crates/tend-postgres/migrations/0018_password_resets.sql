-- Agent password reset by e-mail: single-use tokens, stored by the SHA-256 of the secret.
CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY,
    agent_id BIGINT NOT NULL REFERENCES agents(id),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX password_resets_agent ON password_resets(agent_id);
