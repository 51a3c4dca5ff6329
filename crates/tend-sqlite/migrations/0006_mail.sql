-- The e-mail channel: mailboxes, the intake log with every received mail's raw bytes,
-- Message-IDs for threading and deduplication, ticket CCs, bouncing addresses, IMAP progress.

CREATE TABLE mailboxes (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL DEFAULT '',
    group_id INTEGER REFERENCES groups(id),
    brand_id INTEGER,
    closed_policy TEXT NOT NULL DEFAULT 'follow_up' CHECK (closed_policy IN ('reopen','follow_up')),
    auto_ack INTEGER NOT NULL DEFAULT 1,
    imap TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

-- One row per received mail, whatever became of it; raw bytes in blobs.
CREATE TABLE mail_intake (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    mailbox_id INTEGER,
    source TEXT NOT NULL,
    message_id TEXT,
    sender TEXT COLLATE NOCASE,
    subject TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    ticket_id INTEGER,
    message_row INTEGER,
    raw_sha256 TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX mail_intake_sender ON mail_intake(sender, received_at);
CREATE INDEX mail_intake_outcome ON mail_intake(outcome, id);
CREATE INDEX mail_intake_ticket ON mail_intake(ticket_id, id);

-- Message-IDs we received or sent, for threading (In-Reply-To/References) and deduplication.
CREATE TABLE mail_ids (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    ticket_id INTEGER NOT NULL,
    message_row INTEGER,
    direction TEXT NOT NULL CHECK (direction IN ('in','out')),
    refs TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX mail_ids_ticket ON mail_ids(ticket_id, id);

CREATE TABLE ticket_participants (
    ticket_id INTEGER NOT NULL,
    address TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (ticket_id, address)
) WITHOUT ROWID;

CREATE TABLE bounced_addresses (
    address TEXT PRIMARY KEY COLLATE NOCASE,
    bounced_at INTEGER NOT NULL,
    permanent INTEGER NOT NULL,
    reason TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE imap_state (
    mailbox_id INTEGER PRIMARY KEY,
    uid_validity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL
);

ALTER TABLE messages ADD COLUMN mail TEXT;
