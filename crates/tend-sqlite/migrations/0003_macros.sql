-- Macros: canned replies with placeholders that also set fields. owner_id NULL = shared.
CREATE TABLE macros (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    owner_id INTEGER REFERENCES agents(id),
    body TEXT NOT NULL,
    public INTEGER NOT NULL DEFAULT 1,
    actions TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX macros_owner ON macros(owner_id, title);
