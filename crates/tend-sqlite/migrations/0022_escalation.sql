-- Escalation and working hours (issue 5). Group leads and agents' working hours live beside
-- the groups and agents tables (which stay as they are).
-- A group's lead: who "notify the group lead" (escalation levels, trigger notify actions) mails.
CREATE TABLE group_leads (
    group_id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- An agent's working hours in the calendar text format (tend_core::sla::CalendarSpec::parse);
-- notifications outside them wait for the next working period.
CREATE TABLE agent_hours (
    agent_id INTEGER PRIMARY KEY,
    calendar TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
