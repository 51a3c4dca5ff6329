-- Kiosk mode (a shop-counter tablet answering one survey, offline-capable) and the per-day
-- roll-ups that the score queries read instead of every answer.

CREATE TABLE survey_kiosks (
    id INTEGER PRIMARY KEY,
    survey_id INTEGER NOT NULL REFERENCES surveys(id),
    name TEXT NOT NULL,
    group_id INTEGER,
    -- SHA-256 of the secret part of the kiosk URL's token.
    token_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX survey_kiosks_survey ON survey_kiosks(survey_id);

-- One row per answer given at a kiosk: the page's UUID makes replays and overlapping sync
-- batches land once. kind/scale/group are the survey's and kiosk's when it was stored.
CREATE TABLE survey_kiosk_answers (
    id INTEGER PRIMARY KEY,
    kiosk_id INTEGER NOT NULL REFERENCES survey_kiosks(id),
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    scale INTEGER,
    group_id INTEGER,
    score INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (kiosk_id, client_id)
);
CREATE INDEX survey_kiosk_answers_created ON survey_kiosk_answers(kind, created_at);

-- Roll-ups, kept by the triggers below in the writing transaction. day = UTC days since
-- 1970-01-01; 0 stands for "no scale / no group / no agent".
CREATE TABLE survey_score_days (
    kind TEXT NOT NULL,
    day INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, day, scale, group_id, channel, score)
) WITHOUT ROWID;

CREATE TABLE survey_agent_score_days (
    kind TEXT NOT NULL,
    day INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, day, scale, agent_id, score)
) WITHOUT ROWID;

CREATE TABLE survey_sent_days (
    kind TEXT NOT NULL,
    day INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    sent INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    PRIMARY KEY (kind, day, group_id, agent_id, channel)
) WITHOUT ROWID;

-- Invitations → sent/answered per day.
CREATE TRIGGER survey_invitations_roll_ins AFTER INSERT ON survey_invitations BEGIN
    INSERT INTO survey_sent_days(kind, day, group_id, agent_id, channel, sent, answered)
    VALUES (NEW.kind, NEW.sent_at / 86400000000, COALESCE(NEW.group_id, 0), COALESCE(NEW.agent_id, 0), NEW.channel, 1, NEW.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;
CREATE TRIGGER survey_invitations_roll_del AFTER DELETE ON survey_invitations BEGIN
    INSERT INTO survey_sent_days(kind, day, group_id, agent_id, channel, sent, answered)
    VALUES (OLD.kind, OLD.sent_at / 86400000000, COALESCE(OLD.group_id, 0), COALESCE(OLD.agent_id, 0), OLD.channel, -1, -OLD.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;
CREATE TRIGGER survey_invitations_roll_upd AFTER UPDATE OF kind, sent_at, group_id, agent_id, channel, responded ON survey_invitations BEGIN
    INSERT INTO survey_sent_days(kind, day, group_id, agent_id, channel, sent, answered)
    VALUES (OLD.kind, OLD.sent_at / 86400000000, COALESCE(OLD.group_id, 0), COALESCE(OLD.agent_id, 0), OLD.channel, -1, -OLD.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_sent_days(kind, day, group_id, agent_id, channel, sent, answered)
    VALUES (NEW.kind, NEW.sent_at / 86400000000, COALESCE(NEW.group_id, 0), COALESCE(NEW.agent_id, 0), NEW.channel, 1, NEW.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;

-- Responses → answers per day and score (the invitation gives kind, group, agent, channel).
CREATE TRIGGER survey_responses_roll_ins AFTER INSERT ON survey_responses BEGIN
    INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
    SELECT i.kind, NEW.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
    SELECT i.kind, NEW.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_responses_roll_del AFTER DELETE ON survey_responses BEGIN
    INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
    SELECT i.kind, OLD.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
    SELECT i.kind, OLD.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_responses_roll_upd AFTER UPDATE OF score, created_at, invitation_id ON survey_responses BEGIN
    INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
    SELECT i.kind, OLD.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
    SELECT i.kind, OLD.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
    SELECT i.kind, NEW.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
    SELECT i.kind, NEW.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;

-- Kiosk answers → answers per day (channel 'kiosk', no agent).
CREATE TRIGGER survey_kiosk_answers_roll_ins AFTER INSERT ON survey_kiosk_answers BEGIN
    INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
    VALUES (NEW.kind, NEW.created_at / 86400000000, COALESCE(NEW.scale, 0), COALESCE(NEW.group_id, 0), 'kiosk', NEW.score, 1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
    VALUES (NEW.kind, NEW.created_at / 86400000000, COALESCE(NEW.scale, 0), 0, NEW.score, 1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_kiosk_answers_roll_del AFTER DELETE ON survey_kiosk_answers BEGIN
    INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
    VALUES (OLD.kind, OLD.created_at / 86400000000, COALESCE(OLD.scale, 0), COALESCE(OLD.group_id, 0), 'kiosk', OLD.score, -1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
    VALUES (OLD.kind, OLD.created_at / 86400000000, COALESCE(OLD.scale, 0), 0, OLD.score, -1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;

-- The same per calendar month (month = YYYYMM), kept from the day tables by triggers: what
-- a query over whole months reads (a year is ~12 rows per group and score).
CREATE TABLE survey_score_months (
    kind TEXT NOT NULL,
    month INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, month, scale, group_id, channel, score)
) WITHOUT ROWID;

CREATE TABLE survey_agent_score_months (
    kind TEXT NOT NULL,
    month INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, month, scale, agent_id, score)
) WITHOUT ROWID;

CREATE TABLE survey_sent_months (
    kind TEXT NOT NULL,
    month INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    sent INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    PRIMARY KEY (kind, month, group_id, agent_id, channel)
) WITHOUT ROWID;

CREATE TRIGGER survey_score_days_month_ins AFTER INSERT ON survey_score_days BEGIN
    INSERT INTO survey_score_months(kind, month, scale, group_id, channel, score, n)
    VALUES (NEW.kind, CAST(strftime('%Y%m', NEW.day * 86400, 'unixepoch') AS INTEGER), NEW.scale, NEW.group_id, NEW.channel, NEW.score, NEW.n)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_score_days_month_upd AFTER UPDATE OF n ON survey_score_days BEGIN
    UPDATE survey_score_months SET n = n + NEW.n - OLD.n
    WHERE kind = NEW.kind AND month = CAST(strftime('%Y%m', NEW.day * 86400, 'unixepoch') AS INTEGER)
      AND scale = NEW.scale AND group_id = NEW.group_id AND channel = NEW.channel AND score = NEW.score;
END;
CREATE TRIGGER survey_agent_score_days_month_ins AFTER INSERT ON survey_agent_score_days BEGIN
    INSERT INTO survey_agent_score_months(kind, month, scale, agent_id, score, n)
    VALUES (NEW.kind, CAST(strftime('%Y%m', NEW.day * 86400, 'unixepoch') AS INTEGER), NEW.scale, NEW.agent_id, NEW.score, NEW.n)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_agent_score_days_month_upd AFTER UPDATE OF n ON survey_agent_score_days BEGIN
    UPDATE survey_agent_score_months SET n = n + NEW.n - OLD.n
    WHERE kind = NEW.kind AND month = CAST(strftime('%Y%m', NEW.day * 86400, 'unixepoch') AS INTEGER)
      AND scale = NEW.scale AND agent_id = NEW.agent_id AND score = NEW.score;
END;
CREATE TRIGGER survey_sent_days_month_ins AFTER INSERT ON survey_sent_days BEGIN
    INSERT INTO survey_sent_months(kind, month, group_id, agent_id, channel, sent, answered)
    VALUES (NEW.kind, CAST(strftime('%Y%m', NEW.day * 86400, 'unixepoch') AS INTEGER), NEW.group_id, NEW.agent_id, NEW.channel, NEW.sent, NEW.answered)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;
CREATE TRIGGER survey_sent_days_month_upd AFTER UPDATE OF sent, answered ON survey_sent_days BEGIN
    UPDATE survey_sent_months SET sent = sent + NEW.sent - OLD.sent, answered = answered + NEW.answered - OLD.answered
    WHERE kind = NEW.kind AND month = CAST(strftime('%Y%m', NEW.day * 86400, 'unixepoch') AS INTEGER)
      AND group_id = NEW.group_id AND agent_id = NEW.agent_id AND channel = NEW.channel;
END;

-- What was there before the roll-ups.
INSERT INTO survey_sent_days(kind, day, group_id, agent_id, channel, sent, answered)
SELECT kind, sent_at / 86400000000, COALESCE(group_id, 0), COALESCE(agent_id, 0), channel, COUNT(*), SUM(responded)
FROM survey_invitations GROUP BY 1, 2, 3, 4, 5;
INSERT INTO survey_score_days(kind, day, scale, group_id, channel, score, n)
SELECT i.kind, r.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, r.score, COUNT(*)
FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO survey_agent_score_days(kind, day, scale, agent_id, score, n)
SELECT i.kind, r.created_at / 86400000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), r.score, COUNT(*)
FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
GROUP BY 1, 2, 3, 4, 5;
