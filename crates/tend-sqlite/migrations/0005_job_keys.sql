-- A queued job may carry a key: scheduling the same key again moves the one queued job to the
-- earlier time instead of adding another. A leased job gives its key up (see lease_jobs).
ALTER TABLE jobs ADD COLUMN dedupe_key TEXT;
CREATE UNIQUE INDEX jobs_dedupe ON jobs(dedupe_key) WHERE state = 'queued' AND dedupe_key IS NOT NULL;
