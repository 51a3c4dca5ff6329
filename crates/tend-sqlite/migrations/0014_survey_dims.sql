-- Scores by brand, tag and product, and hourly roll-ups.
--
-- survey_invitation_dims: what an invitation was about when it was sent — its brand (the
-- invitation's brand_id), the ticket's tags and the products (order items, the ticket's
-- `product` field); '' stands for "none" so that every invitation has at least one row per
-- dimension. Written with the invitation, never changed by later edits of the ticket.
--
-- survey_dim_{score,sent}_{hours,days,months}: answers per score and invitations sent/answered
-- per dimension value, per UTC hour / UTC day / calendar month (hour = UTC hours since 1970,
-- day = UTC days, month = YYYYMM). An answer about a ticket with three tags counts once under
-- each tag.
--
-- survey_{score,agent_score,sent}_hours: the per-hour level of the existing roll-ups, so a
-- range whose edges are whole hours but not midnight UTC (a month in Europe/Berlin) reads
-- hour rows instead of answers (tend_store::survey::count_pieces).
--
-- All kept by the triggers below in the writing transaction. Older invitations get their
-- tags and product field from the ticket as it is when this migration runs (the snapshot
-- did not exist before), their products from their order.

CREATE TABLE survey_invitation_dims (
    invitation_id INTEGER NOT NULL REFERENCES survey_invitations(id),
    dim TEXT NOT NULL CHECK (dim IN ('brand', 'tag', 'product')),
    value TEXT NOT NULL,
    PRIMARY KEY (invitation_id, dim, value)
) WITHOUT ROWID;

CREATE TABLE survey_score_hours (
    kind TEXT NOT NULL,
    hour INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, hour, scale, group_id, channel, score)
) WITHOUT ROWID;

CREATE TABLE survey_agent_score_hours (
    kind TEXT NOT NULL,
    hour INTEGER NOT NULL,
    scale INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, hour, scale, agent_id, score)
) WITHOUT ROWID;

CREATE TABLE survey_sent_hours (
    kind TEXT NOT NULL,
    hour INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
    sent INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    PRIMARY KEY (kind, hour, group_id, agent_id, channel)
) WITHOUT ROWID;

CREATE TABLE survey_dim_score_hours (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    hour INTEGER NOT NULL,
    value TEXT NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, dim, hour, value, scale, score)
) WITHOUT ROWID;

CREATE TABLE survey_dim_sent_hours (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    hour INTEGER NOT NULL,
    value TEXT NOT NULL,
    sent INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    PRIMARY KEY (kind, dim, hour, value)
) WITHOUT ROWID;

CREATE TABLE survey_dim_score_days (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    day INTEGER NOT NULL,
    value TEXT NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, dim, day, value, scale, score)
) WITHOUT ROWID;

CREATE TABLE survey_dim_sent_days (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    day INTEGER NOT NULL,
    value TEXT NOT NULL,
    sent INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    PRIMARY KEY (kind, dim, day, value)
) WITHOUT ROWID;

CREATE TABLE survey_dim_score_months (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    month INTEGER NOT NULL,
    value TEXT NOT NULL,
    scale INTEGER NOT NULL,
    score INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, dim, month, value, scale, score)
) WITHOUT ROWID;

CREATE TABLE survey_dim_sent_months (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    month INTEGER NOT NULL,
    value TEXT NOT NULL,
    sent INTEGER NOT NULL,
    answered INTEGER NOT NULL,
    PRIMARY KEY (kind, dim, month, value)
) WITHOUT ROWID;

-- What was there before: the invitations' dimensions (tags and the product field from the
-- tickets as they are now), then every roll-up from the rows.
INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value)
SELECT id, 'brand', COALESCE(CAST(brand_id AS TEXT), '') FROM survey_invitations;
INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value)
SELECT i.id, 'tag', j.value FROM survey_invitations i JOIN tickets t ON t.id = i.ticket_id, json_each(t.tags) j
WHERE i.ticket_id <> 0 AND json_valid(t.tags) AND j.type = 'text' AND j.value <> '';
INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value)
SELECT i.id, 'product', trim(json_extract(j.value, '$.name')) FROM survey_invitations i JOIN orders o ON o.id = i.order_id, json_each(o.items) j
WHERE json_valid(o.items) AND json_type(j.value, '$.name') = 'text' AND trim(json_extract(j.value, '$.name')) <> '';
INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value)
SELECT i.id, 'product', trim(json_extract(t.fields, '$.product')) FROM survey_invitations i JOIN tickets t ON t.id = i.ticket_id
WHERE i.ticket_id <> 0 AND json_valid(t.fields) AND json_type(t.fields, '$.product') = 'text' AND trim(json_extract(t.fields, '$.product')) <> '';
INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value)
SELECT i.id, 'product', trim(j.value) FROM survey_invitations i JOIN tickets t ON t.id = i.ticket_id, json_each(t.fields, '$.product') j
WHERE i.ticket_id <> 0 AND json_valid(t.fields) AND json_type(t.fields, '$.product') = 'array' AND j.type = 'text' AND trim(j.value) <> '';
INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value)
SELECT i.id, x.dim, '' FROM survey_invitations i, (SELECT 'tag' AS dim UNION ALL SELECT 'product') x
WHERE NOT EXISTS (SELECT 1 FROM survey_invitation_dims d WHERE d.invitation_id = i.id AND d.dim = x.dim);

INSERT INTO survey_sent_hours(kind, hour, group_id, agent_id, channel, sent, answered)
SELECT kind, sent_at / 3600000000, COALESCE(group_id, 0), COALESCE(agent_id, 0), channel, COUNT(*), SUM(responded)
FROM survey_invitations GROUP BY 1, 2, 3, 4, 5;
INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
SELECT kind, hour, scale, group_id, channel, score, COUNT(*) FROM (
    SELECT i.kind AS kind, r.created_at / 3600000000 AS hour, COALESCE(s.scale, 0) AS scale, COALESCE(i.group_id, 0) AS group_id, i.channel AS channel, r.score AS score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    UNION ALL
    SELECT k.kind, k.created_at / 3600000000, COALESCE(k.scale, 0), COALESCE(k.group_id, 0), 'kiosk', k.score FROM survey_kiosk_answers k)
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
SELECT kind, hour, scale, agent_id, score, COUNT(*) FROM (
    SELECT i.kind AS kind, r.created_at / 3600000000 AS hour, COALESCE(s.scale, 0) AS scale, COALESCE(i.agent_id, 0) AS agent_id, r.score AS score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    UNION ALL
    SELECT k.kind, k.created_at / 3600000000, COALESCE(k.scale, 0), 0, k.score FROM survey_kiosk_answers k)
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO survey_dim_sent_hours(kind, dim, hour, value, sent, answered)
SELECT i.kind, d.dim, i.sent_at / 3600000000, d.value, COUNT(*), SUM(i.responded)
FROM survey_invitations i JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4;
INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
SELECT kind, dim, unit, value, scale, score, COUNT(*) FROM (
    SELECT i.kind AS kind, d.dim AS dim, r.created_at / 3600000000 AS unit, d.value AS value, COALESCE(s.scale, 0) AS scale, r.score AS score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    JOIN survey_invitation_dims d ON d.invitation_id = i.id
    UNION ALL
    SELECT k.kind, x.dim, k.created_at / 3600000000, '', COALESCE(k.scale, 0), k.score
    FROM survey_kiosk_answers k, (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x)
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO survey_dim_sent_days(kind, dim, day, value, sent, answered)
SELECT i.kind, d.dim, i.sent_at / 86400000000, d.value, COUNT(*), SUM(i.responded)
FROM survey_invitations i JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4;
INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
SELECT kind, dim, unit, value, scale, score, COUNT(*) FROM (
    SELECT i.kind AS kind, d.dim AS dim, r.created_at / 86400000000 AS unit, d.value AS value, COALESCE(s.scale, 0) AS scale, r.score AS score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    JOIN survey_invitation_dims d ON d.invitation_id = i.id
    UNION ALL
    SELECT k.kind, x.dim, k.created_at / 86400000000, '', COALESCE(k.scale, 0), k.score
    FROM survey_kiosk_answers k, (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x)
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO survey_dim_sent_months(kind, dim, month, value, sent, answered)
SELECT i.kind, d.dim, CAST(strftime('%Y%m', i.sent_at / 1000000, 'unixepoch') AS INTEGER), d.value, COUNT(*), SUM(i.responded)
FROM survey_invitations i JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4;
INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
SELECT kind, dim, unit, value, scale, score, COUNT(*) FROM (
    SELECT i.kind AS kind, d.dim AS dim, CAST(strftime('%Y%m', r.created_at / 1000000, 'unixepoch') AS INTEGER) AS unit, d.value AS value, COALESCE(s.scale, 0) AS scale, r.score AS score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    JOIN survey_invitation_dims d ON d.invitation_id = i.id
    UNION ALL
    SELECT k.kind, x.dim, CAST(strftime('%Y%m', k.created_at / 1000000, 'unixepoch') AS INTEGER), '', COALESCE(k.scale, 0), k.score
    FROM survey_kiosk_answers k, (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x)
GROUP BY 1, 2, 3, 4, 5, 6;

-- Invitations → sent per hour, and per dimension value (hour, day, month).
CREATE TRIGGER survey_invitations_hour_ins AFTER INSERT ON survey_invitations BEGIN
    INSERT INTO survey_sent_hours(kind, hour, group_id, agent_id, channel, sent, answered)
    VALUES (NEW.kind, NEW.sent_at / 3600000000, COALESCE(NEW.group_id, 0), COALESCE(NEW.agent_id, 0), NEW.channel, 1, NEW.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;
CREATE TRIGGER survey_invitations_hour_del AFTER DELETE ON survey_invitations BEGIN
    INSERT INTO survey_sent_hours(kind, hour, group_id, agent_id, channel, sent, answered)
    VALUES (OLD.kind, OLD.sent_at / 3600000000, COALESCE(OLD.group_id, 0), COALESCE(OLD.agent_id, 0), OLD.channel, -1, -OLD.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_hours(kind, dim, hour, value, sent, answered)
    SELECT OLD.kind, d.dim, OLD.sent_at / 3600000000, d.value, -1, -OLD.responded FROM survey_invitation_dims d WHERE d.invitation_id = OLD.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_days(kind, dim, day, value, sent, answered)
    SELECT OLD.kind, d.dim, OLD.sent_at / 86400000000, d.value, -1, -OLD.responded FROM survey_invitation_dims d WHERE d.invitation_id = OLD.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_months(kind, dim, month, value, sent, answered)
    SELECT OLD.kind, d.dim, CAST(strftime('%Y%m', OLD.sent_at / 1000000, 'unixepoch') AS INTEGER), d.value, -1, -OLD.responded FROM survey_invitation_dims d WHERE d.invitation_id = OLD.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;
CREATE TRIGGER survey_invitations_hour_upd AFTER UPDATE OF kind, sent_at, group_id, agent_id, channel, responded ON survey_invitations BEGIN
    INSERT INTO survey_sent_hours(kind, hour, group_id, agent_id, channel, sent, answered)
    VALUES (OLD.kind, OLD.sent_at / 3600000000, COALESCE(OLD.group_id, 0), COALESCE(OLD.agent_id, 0), OLD.channel, -1, -OLD.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_sent_hours(kind, hour, group_id, agent_id, channel, sent, answered)
    VALUES (NEW.kind, NEW.sent_at / 3600000000, COALESCE(NEW.group_id, 0), COALESCE(NEW.agent_id, 0), NEW.channel, 1, NEW.responded)
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;
CREATE TRIGGER survey_invitations_dim_upd AFTER UPDATE OF kind, sent_at, responded ON survey_invitations BEGIN
    INSERT INTO survey_dim_sent_hours(kind, dim, hour, value, sent, answered)
    SELECT OLD.kind, d.dim, OLD.sent_at / 3600000000, d.value, -1, -OLD.responded FROM survey_invitation_dims d WHERE d.invitation_id = OLD.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_days(kind, dim, day, value, sent, answered)
    SELECT OLD.kind, d.dim, OLD.sent_at / 86400000000, d.value, -1, -OLD.responded FROM survey_invitation_dims d WHERE d.invitation_id = OLD.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_months(kind, dim, month, value, sent, answered)
    SELECT OLD.kind, d.dim, CAST(strftime('%Y%m', OLD.sent_at / 1000000, 'unixepoch') AS INTEGER), d.value, -1, -OLD.responded FROM survey_invitation_dims d WHERE d.invitation_id = OLD.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_hours(kind, dim, hour, value, sent, answered)
    SELECT NEW.kind, d.dim, NEW.sent_at / 3600000000, d.value, 1, NEW.responded FROM survey_invitation_dims d WHERE d.invitation_id = NEW.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_days(kind, dim, day, value, sent, answered)
    SELECT NEW.kind, d.dim, NEW.sent_at / 86400000000, d.value, 1, NEW.responded FROM survey_invitation_dims d WHERE d.invitation_id = NEW.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_sent_months(kind, dim, month, value, sent, answered)
    SELECT NEW.kind, d.dim, CAST(strftime('%Y%m', NEW.sent_at / 1000000, 'unixepoch') AS INTEGER), d.value, 1, NEW.responded FROM survey_invitation_dims d WHERE d.invitation_id = NEW.id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
END;

-- Dimension rows → sent (and the answer, when there is one already).
CREATE TRIGGER survey_invitation_dims_ins AFTER INSERT ON survey_invitation_dims BEGIN
    INSERT INTO survey_dim_sent_hours(kind, dim, hour, value, sent, answered)
    SELECT i.kind, NEW.dim, i.sent_at / 3600000000, NEW.value, 1, i.responded FROM survey_invitations i WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT i.kind, NEW.dim, r.created_at / 3600000000, NEW.value, COALESCE(s.scale, 0), r.score, 1
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id WHERE r.invitation_id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_sent_days(kind, dim, day, value, sent, answered)
    SELECT i.kind, NEW.dim, i.sent_at / 86400000000, NEW.value, 1, i.responded FROM survey_invitations i WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT i.kind, NEW.dim, r.created_at / 86400000000, NEW.value, COALESCE(s.scale, 0), r.score, 1
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id WHERE r.invitation_id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_sent_months(kind, dim, month, value, sent, answered)
    SELECT i.kind, NEW.dim, CAST(strftime('%Y%m', i.sent_at / 1000000, 'unixepoch') AS INTEGER), NEW.value, 1, i.responded FROM survey_invitations i WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT i.kind, NEW.dim, CAST(strftime('%Y%m', r.created_at / 1000000, 'unixepoch') AS INTEGER), NEW.value, COALESCE(s.scale, 0), r.score, 1
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id WHERE r.invitation_id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_invitation_dims_del AFTER DELETE ON survey_invitation_dims BEGIN
    INSERT INTO survey_dim_sent_hours(kind, dim, hour, value, sent, answered)
    SELECT i.kind, OLD.dim, i.sent_at / 3600000000, OLD.value, -1, -i.responded FROM survey_invitations i WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT i.kind, OLD.dim, r.created_at / 3600000000, OLD.value, COALESCE(s.scale, 0), r.score, -1
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id WHERE r.invitation_id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_sent_days(kind, dim, day, value, sent, answered)
    SELECT i.kind, OLD.dim, i.sent_at / 86400000000, OLD.value, -1, -i.responded FROM survey_invitations i WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT i.kind, OLD.dim, r.created_at / 86400000000, OLD.value, COALESCE(s.scale, 0), r.score, -1
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id WHERE r.invitation_id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_sent_months(kind, dim, month, value, sent, answered)
    SELECT i.kind, OLD.dim, CAST(strftime('%Y%m', i.sent_at / 1000000, 'unixepoch') AS INTEGER), OLD.value, -1, -i.responded FROM survey_invitations i WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET sent = sent + excluded.sent, answered = answered + excluded.answered;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT i.kind, OLD.dim, CAST(strftime('%Y%m', r.created_at / 1000000, 'unixepoch') AS INTEGER), OLD.value, COALESCE(s.scale, 0), r.score, -1
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id WHERE r.invitation_id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;

-- Responses → answers per hour, and per dimension value.
CREATE TRIGGER survey_responses_hour_ins AFTER INSERT ON survey_responses BEGIN
    INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
    SELECT i.kind, NEW.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
    SELECT i.kind, NEW.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT i.kind, d.dim, NEW.created_at / 3600000000, d.value, COALESCE(s.scale, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT i.kind, d.dim, NEW.created_at / 86400000000, d.value, COALESCE(s.scale, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT i.kind, d.dim, CAST(strftime('%Y%m', NEW.created_at / 1000000, 'unixepoch') AS INTEGER), d.value, COALESCE(s.scale, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_responses_hour_del AFTER DELETE ON survey_responses BEGIN
    INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
    SELECT i.kind, OLD.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
    SELECT i.kind, OLD.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT i.kind, d.dim, OLD.created_at / 3600000000, d.value, COALESCE(s.scale, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT i.kind, d.dim, OLD.created_at / 86400000000, d.value, COALESCE(s.scale, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT i.kind, d.dim, CAST(strftime('%Y%m', OLD.created_at / 1000000, 'unixepoch') AS INTEGER), d.value, COALESCE(s.scale, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_responses_hour_upd AFTER UPDATE OF score, created_at, invitation_id ON survey_responses BEGIN
    INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
    SELECT i.kind, OLD.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
    SELECT i.kind, OLD.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT i.kind, d.dim, OLD.created_at / 3600000000, d.value, COALESCE(s.scale, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT i.kind, d.dim, OLD.created_at / 86400000000, d.value, COALESCE(s.scale, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT i.kind, d.dim, CAST(strftime('%Y%m', OLD.created_at / 1000000, 'unixepoch') AS INTEGER), d.value, COALESCE(s.scale, 0), OLD.score, -1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = OLD.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
    SELECT i.kind, NEW.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.group_id, 0), i.channel, NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
    SELECT i.kind, NEW.created_at / 3600000000, COALESCE(s.scale, 0), COALESCE(i.agent_id, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT i.kind, d.dim, NEW.created_at / 3600000000, d.value, COALESCE(s.scale, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT i.kind, d.dim, NEW.created_at / 86400000000, d.value, COALESCE(s.scale, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT i.kind, d.dim, CAST(strftime('%Y%m', NEW.created_at / 1000000, 'unixepoch') AS INTEGER), d.value, COALESCE(s.scale, 0), NEW.score, 1
    FROM survey_invitations i JOIN surveys s ON s.id = i.survey_id JOIN survey_invitation_dims d ON d.invitation_id = i.id WHERE i.id = NEW.invitation_id
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;

-- Kiosk answers → per hour, and under "none" for brand, tag and product.
CREATE TRIGGER survey_kiosk_answers_hour_ins AFTER INSERT ON survey_kiosk_answers BEGIN
    INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
    VALUES (NEW.kind, NEW.created_at / 3600000000, COALESCE(NEW.scale, 0), COALESCE(NEW.group_id, 0), 'kiosk', NEW.score, 1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
    VALUES (NEW.kind, NEW.created_at / 3600000000, COALESCE(NEW.scale, 0), 0, NEW.score, 1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT NEW.kind, x.dim, NEW.created_at / 3600000000, '', COALESCE(NEW.scale, 0), NEW.score, 1 FROM (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x WHERE true
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT NEW.kind, x.dim, NEW.created_at / 86400000000, '', COALESCE(NEW.scale, 0), NEW.score, 1 FROM (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x WHERE true
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT NEW.kind, x.dim, CAST(strftime('%Y%m', NEW.created_at / 1000000, 'unixepoch') AS INTEGER), '', COALESCE(NEW.scale, 0), NEW.score, 1 FROM (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x WHERE true
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
CREATE TRIGGER survey_kiosk_answers_hour_del AFTER DELETE ON survey_kiosk_answers BEGIN
    INSERT INTO survey_score_hours(kind, hour, scale, group_id, channel, score, n)
    VALUES (OLD.kind, OLD.created_at / 3600000000, COALESCE(OLD.scale, 0), COALESCE(OLD.group_id, 0), 'kiosk', OLD.score, -1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_agent_score_hours(kind, hour, scale, agent_id, score, n)
    VALUES (OLD.kind, OLD.created_at / 3600000000, COALESCE(OLD.scale, 0), 0, OLD.score, -1)
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_hours(kind, dim, hour, value, scale, score, n)
    SELECT OLD.kind, x.dim, OLD.created_at / 3600000000, '', COALESCE(OLD.scale, 0), OLD.score, -1 FROM (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x WHERE true
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_days(kind, dim, day, value, scale, score, n)
    SELECT OLD.kind, x.dim, OLD.created_at / 86400000000, '', COALESCE(OLD.scale, 0), OLD.score, -1 FROM (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x WHERE true
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
    INSERT INTO survey_dim_score_months(kind, dim, month, value, scale, score, n)
    SELECT OLD.kind, x.dim, CAST(strftime('%Y%m', OLD.created_at / 1000000, 'unixepoch') AS INTEGER), '', COALESCE(OLD.scale, 0), OLD.score, -1 FROM (SELECT 'brand' AS dim UNION ALL SELECT 'tag' UNION ALL SELECT 'product') x WHERE true
    ON CONFLICT DO UPDATE SET n = n + excluded.n;
END;
