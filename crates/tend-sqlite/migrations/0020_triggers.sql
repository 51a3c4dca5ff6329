-- Triggers (issue 5): event → conditions → actions. `def` is the JSON of
-- tend_core::automation::TriggerDef (name, active, position, on, conditions, actions); `active`
-- and `position` are copied out so a write can ask "is any trigger active?" cheaply.
CREATE TABLE triggers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    active INTEGER NOT NULL,
    position INTEGER NOT NULL,
    def TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX triggers_active ON triggers(active);
-- Per ticket: the last event the trigger runner has looked at.
CREATE TABLE trigger_cursors (
    ticket_id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL
);
-- Time-based automations (a settings document, key 'automations') applied to a ticket: at most
-- once per automation, ticket and status period (`period`: when the status began, µs).
CREATE TABLE automation_runs (
    automation_id INTEGER NOT NULL,
    ticket_id INTEGER NOT NULL,
    period INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (automation_id, ticket_id, period)
);
