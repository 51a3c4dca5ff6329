-- Kiosks embedded in other sites: the origins allowed to frame the kiosk page (JSON array of
-- "https://host[:port]"; empty: no framing, as before).
ALTER TABLE survey_kiosks ADD COLUMN embed_origins JSONB NOT NULL DEFAULT '[]';
