-- Tend schema for SQLite. Times are INTEGER microseconds since the Unix epoch (UTC).
-- JSON values are TEXT. Ids are INTEGER PRIMARY KEY (rowid).

CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','supervisor','agent')),
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id),
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    PRIMARY KEY (group_id, agent_id)
) WITHOUT ROWID;
CREATE INDEX group_members_agent ON group_members(agent_id, group_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    domains TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    organization_id INTEGER REFERENCES organizations(id),
    language TEXT,
    time_zone TEXT,
    notes TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX customers_org ON customers(organization_id, id);

CREATE TABLE customer_identities (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    kind TEXT NOT NULL CHECK (kind IN ('email','phone','social')),
    value TEXT NOT NULL COLLATE NOCASE,
    UNIQUE (kind, value)
);
CREATE INDEX customer_identities_customer ON customer_identities(customer_id);

CREATE TABLE field_defs (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    field_type TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    channel TEXT NOT NULL,
    requester_id INTEGER NOT NULL REFERENCES customers(id),
    organization_id INTEGER REFERENCES organizations(id),
    assignee_id INTEGER REFERENCES agents(id),
    group_id INTEGER REFERENCES groups(id),
    brand_id INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    fields TEXT NOT NULL DEFAULT '{}',
    external_id TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    solved_at INTEGER,
    last_seq INTEGER NOT NULL
);
-- Agent queues: group + status, newest activity first.
CREATE INDEX tickets_group_status_updated ON tickets(group_id, status, updated_at DESC, id DESC);
CREATE INDEX tickets_assignee_status_updated ON tickets(assignee_id, status, updated_at DESC, id DESC);
CREATE INDEX tickets_status_updated ON tickets(status, updated_at DESC, id DESC);
CREATE INDEX tickets_updated ON tickets(updated_at DESC, id DESC);
CREATE INDEX tickets_requester ON tickets(requester_id, id);
CREATE INDEX tickets_org ON tickets(organization_id, id);

-- Rows of ticket_tags, messages, attachments and events are written only by the store, in the
-- transaction that holds their ticket, and tickets are never deleted: their ticket_id needs no
-- foreign key check (which costs a lookup per row on bulk imports).
CREATE TABLE ticket_tags (
    tag TEXT NOT NULL,
    ticket_id INTEGER NOT NULL,
    PRIMARY KEY (tag, ticket_id)
) WITHOUT ROWID;
CREATE INDEX ticket_tags_ticket ON ticket_tags(ticket_id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    author_kind TEXT NOT NULL,
    author_id INTEGER,
    public INTEGER NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_ticket ON messages(ticket_id, id);

-- Attachment bytes, content-addressed: the same file sent twice is stored once.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    data BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL,
    ticket_id INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256)
);
CREATE INDEX attachments_message ON attachments(message_id);

-- The append-only log. seq is gap-free: one writer assigns it in commit order.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id INTEGER,
    data TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX events_ticket ON events(ticket_id, seq);

CREATE TABLE idempotency_keys (
    agent_id INTEGER NOT NULL,
    key TEXT NOT NULL,
    ticket_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, key)
) WITHOUT ROWID;

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    actor_kind TEXT NOT NULL,
    actor_id INTEGER,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    data TEXT NOT NULL,
    at INTEGER NOT NULL
);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(state, run_at, id);
