-- Brands: what customers see (name, host, colours, default language, logo). Tickets,
-- mailboxes, survey invitations, KB categories and metric roll-ups already carry brand_id.
-- Brands are archived, never deleted, so those ids keep meaning something.
CREATE TABLE brands (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT NOT NULL,
    host TEXT,
    primary_color TEXT NOT NULL,
    accent_color TEXT NOT NULL,
    default_locale TEXT NOT NULL DEFAULT 'en',
    logo BLOB,
    logo_content_type TEXT,
    logo_sha256 TEXT,
    logo_updated_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived_at INTEGER,
    CONSTRAINT brands_slug_key UNIQUE (slug),
    CONSTRAINT brands_host_key UNIQUE (host),
    CHECK ((logo IS NULL) = (logo_content_type IS NULL)),
    CHECK (logo_content_type IS NULL OR logo_content_type IN ('image/png', 'image/jpeg', 'image/webp')),
    CHECK (logo IS NULL OR length(logo) <= 262144)
);
