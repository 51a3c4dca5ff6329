-- Saved ticket views: personal (owner_id = the agent) or shared (owner_id NULL). `filters` is a
-- query string in the API's list syntax (status=new,open&group_id=3), checked by the same
-- parser as GET /api/v1/tickets; `columns` a JSON list of column names.
CREATE TABLE saved_views (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER REFERENCES agents(id),
    name TEXT NOT NULL,
    filters TEXT NOT NULL,
    sort TEXT NOT NULL,
    columns TEXT NOT NULL,
    created_by INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX saved_views_owner ON saved_views(owner_id);
