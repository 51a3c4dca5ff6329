-- Knowledge base: categories → sections → articles; an article has one translation per
-- locale (its own title, sanitized body, status, schedule), a revision per save, feedback,
-- attachments (bytes in the content-addressed blobs table) and a view count.
-- kb_changes is the feed a search index tails: one row per change to an article, written in
-- the same transaction as the change. seq comes from the single writer, so it is gap-free
-- and in commit order (AUTOINCREMENT: never reused).

CREATE TABLE kb_categories (
    id INTEGER PRIMARY KEY,
    brand_id INTEGER,
    position INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    translations TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE kb_sections (
    id INTEGER PRIMARY KEY,
    category_id INTEGER NOT NULL REFERENCES kb_categories(id),
    brand_id INTEGER,
    position INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    translations TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX kb_sections_category ON kb_sections(category_id, position, id);

CREATE TABLE kb_articles (
    id INTEGER PRIMARY KEY,
    section_id INTEGER NOT NULL REFERENCES kb_sections(id),
    brand_id INTEGER,
    position INTEGER NOT NULL DEFAULT 0,
    source_locale TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public','internal')),
    tags TEXT NOT NULL DEFAULT '[]',
    related_ids TEXT NOT NULL DEFAULT '[]',
    author_id INTEGER,
    view_count INTEGER NOT NULL DEFAULT 0,
    helpful_yes INTEGER NOT NULL DEFAULT 0,
    helpful_no INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX kb_articles_section ON kb_articles(section_id, id);

CREATE TABLE kb_translations (
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    title TEXT NOT NULL,
    body_html TEXT NOT NULL,
    body_text TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft','published','archived')),
    outdated INTEGER NOT NULL DEFAULT 0,
    publish_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by_kind TEXT NOT NULL,
    updated_by_id INTEGER,
    PRIMARY KEY (article_id, locale)
) WITHOUT ROWID;

CREATE TABLE kb_revisions (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    author_kind TEXT NOT NULL,
    author_id INTEGER,
    at INTEGER NOT NULL,
    title TEXT NOT NULL,
    body_html TEXT NOT NULL,
    body_text TEXT NOT NULL,
    status TEXT NOT NULL,
    publish_at INTEGER
);
CREATE INDEX kb_revisions_article ON kb_revisions(article_id, locale, id);

CREATE TABLE kb_feedback (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    locale TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL
);
CREATE INDEX kb_feedback_article ON kb_feedback(article_id, id);

CREATE TABLE kb_attachments (
    id INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES kb_articles(id) ON DELETE CASCADE,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    created_at INTEGER NOT NULL
);
CREATE INDEX kb_attachments_article ON kb_attachments(article_id, id);

-- No foreign key: a deleted article's changes stay (the index must learn of the deletion).
CREATE TABLE kb_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id INTEGER NOT NULL,
    at INTEGER NOT NULL
);
