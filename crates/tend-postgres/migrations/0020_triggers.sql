-- Triggers (issue 5): event → conditions → actions. `def` is the JSON of
-- tend_core::automation::TriggerDef (name, active, position, on, conditions, actions); `active`
-- and `position` are copied out so a write can ask "is any trigger active?" cheaply.
CREATE TABLE triggers (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    position BIGINT NOT NULL,
    def JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX triggers_active ON triggers(active);
-- Per ticket: the last event the trigger runner has looked at.
CREATE TABLE trigger_cursors (
    ticket_id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
-- Time-based automations (a settings document, key 'automations') applied to a ticket: at most
-- once per automation, ticket and status period (`period`: when the status began, µs).
CREATE TABLE automation_runs (
    automation_id BIGINT NOT NULL,
    ticket_id BIGINT NOT NULL,
    period BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (automation_id, ticket_id, period)
);
