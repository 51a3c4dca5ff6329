-- Automatic assignment (issue 5; docs/routing.md). New tables only: agents and groups keep
-- their shape. An agent or group without a row has the defaults (off, no skills, unlimited;
-- manual).
CREATE TABLE agent_routing (
    agent_id INTEGER PRIMARY KEY REFERENCES agents(id),
    availability TEXT NOT NULL DEFAULT 'off' CHECK (availability IN ('online','away','off')),
    -- JSON array of skills, e.g. ["billing","lang:de"].
    skills TEXT NOT NULL DEFAULT '[]',
    -- Open (new/open) tickets the agent may hold; NULL = unlimited.
    capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    -- When routing last gave them a ticket (µs; least-loaded ties go to the longest idle).
    last_assigned_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE TABLE group_routing (
    group_id INTEGER PRIMARY KEY REFERENCES groups(id),
    mode TEXT NOT NULL DEFAULT 'manual' CHECK (mode IN ('manual','round_robin','least_loaded')),
    reassign_when_off INTEGER NOT NULL DEFAULT 0,
    -- Round robin: the agent assigned to last.
    last_agent_id INTEGER,
    updated_at INTEGER NOT NULL
);
-- Waiting tickets (unassigned, new/open) of a group, oldest first.
CREATE INDEX tickets_routing_wait ON tickets(group_id, id) WHERE assignee_id IS NULL AND status IN ('new','open');
