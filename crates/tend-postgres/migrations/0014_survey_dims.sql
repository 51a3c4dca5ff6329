-- Scores by brand, tag and product, and hourly roll-ups (see the SQLite migration of the
-- same number for the design).
--
-- survey_invitation_dims: what an invitation was about when it was sent — its brand, the
-- ticket's tags, the products (order items, the ticket's `product` field); '' = "none", so
-- every invitation has at least one row per dimension. Written with the invitation.
-- survey_dim_{score,sent}_{hours,days,months}: answers per score and invitations
-- sent/answered per dimension value (hour = UTC hours since 1970; day a UTC date; month its
-- first day). An answer about a ticket with three tags counts once under each tag.
-- survey_{score,agent_score,sent}_hours: the per-hour level of the existing roll-ups.
-- All kept by triggers in the writing transaction. Older invitations get their tags and
-- product field from the ticket as it is when this migration runs.

CREATE FUNCTION survey_hour(t TIMESTAMPTZ) RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(extract(epoch FROM t) / 3600)::bigint
$$;

CREATE TABLE survey_invitation_dims (
    invitation_id BIGINT NOT NULL REFERENCES survey_invitations(id),
    dim TEXT NOT NULL CHECK (dim IN ('brand', 'tag', 'product')),
    value TEXT NOT NULL,
    PRIMARY KEY (invitation_id, dim, value)
);

CREATE TABLE survey_score_hours (
    kind TEXT NOT NULL,
    hour BIGINT NOT NULL,
    scale SMALLINT NOT NULL,
    group_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    score SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, hour, scale, group_id, channel, score)
);

CREATE TABLE survey_agent_score_hours (
    kind TEXT NOT NULL,
    hour BIGINT NOT NULL,
    scale SMALLINT NOT NULL,
    agent_id BIGINT NOT NULL,
    score SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, hour, scale, agent_id, score)
);

CREATE TABLE survey_sent_hours (
    kind TEXT NOT NULL,
    hour BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    agent_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
    sent BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    PRIMARY KEY (kind, hour, group_id, agent_id, channel)
);

CREATE TABLE survey_dim_score_hours (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    hour BIGINT NOT NULL,
    value TEXT NOT NULL,
    scale SMALLINT NOT NULL,
    score SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, dim, hour, value, scale, score)
);

CREATE TABLE survey_dim_sent_hours (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    hour BIGINT NOT NULL,
    value TEXT NOT NULL,
    sent BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    PRIMARY KEY (kind, dim, hour, value)
);

CREATE TABLE survey_dim_score_days (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    day DATE NOT NULL,
    value TEXT NOT NULL,
    scale SMALLINT NOT NULL,
    score SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, dim, day, value, scale, score)
);

CREATE TABLE survey_dim_sent_days (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    day DATE NOT NULL,
    value TEXT NOT NULL,
    sent BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    PRIMARY KEY (kind, dim, day, value)
);

CREATE TABLE survey_dim_score_months (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    month DATE NOT NULL,
    value TEXT NOT NULL,
    scale SMALLINT NOT NULL,
    score SMALLINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, dim, month, value, scale, score)
);

CREATE TABLE survey_dim_sent_months (
    kind TEXT NOT NULL,
    dim TEXT NOT NULL,
    month DATE NOT NULL,
    value TEXT NOT NULL,
    sent BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    PRIMARY KEY (kind, dim, month, value)
);

-- What was there before.
INSERT INTO survey_invitation_dims (invitation_id, dim, value)
SELECT id, 'brand', COALESCE(brand_id::text, '') FROM survey_invitations
ON CONFLICT DO NOTHING;
INSERT INTO survey_invitation_dims (invitation_id, dim, value)
SELECT i.id, 'tag', g.tag FROM survey_invitations i JOIN tickets t ON t.id = i.ticket_id, unnest(t.tags) AS g(tag)
WHERE i.ticket_id <> 0 AND g.tag <> ''
ON CONFLICT DO NOTHING;
INSERT INTO survey_invitation_dims (invitation_id, dim, value)
SELECT i.id, 'product', btrim(e->>'name') FROM survey_invitations i JOIN orders o ON o.id = i.order_id,
       jsonb_array_elements(CASE WHEN jsonb_typeof(o.items) = 'array' THEN o.items ELSE '[]'::jsonb END) AS e
WHERE jsonb_typeof(e->'name') = 'string' AND btrim(e->>'name') <> ''
ON CONFLICT DO NOTHING;
INSERT INTO survey_invitation_dims (invitation_id, dim, value)
SELECT i.id, 'product', btrim(t.fields->>'product') FROM survey_invitations i JOIN tickets t ON t.id = i.ticket_id
WHERE i.ticket_id <> 0 AND jsonb_typeof(t.fields->'product') = 'string' AND btrim(t.fields->>'product') <> ''
ON CONFLICT DO NOTHING;
INSERT INTO survey_invitation_dims (invitation_id, dim, value)
SELECT i.id, 'product', btrim(e #>> '{}') FROM survey_invitations i JOIN tickets t ON t.id = i.ticket_id,
       jsonb_array_elements(CASE WHEN jsonb_typeof(t.fields->'product') = 'array' THEN t.fields->'product' ELSE '[]'::jsonb END) AS e
WHERE i.ticket_id <> 0 AND jsonb_typeof(e) = 'string' AND btrim(e #>> '{}') <> ''
ON CONFLICT DO NOTHING;
INSERT INTO survey_invitation_dims (invitation_id, dim, value)
SELECT i.id, x.dim, '' FROM survey_invitations i, (VALUES ('tag'), ('product')) AS x(dim)
WHERE NOT EXISTS (SELECT 1 FROM survey_invitation_dims d WHERE d.invitation_id = i.id AND d.dim = x.dim)
ON CONFLICT DO NOTHING;

INSERT INTO survey_sent_hours (kind, hour, group_id, agent_id, channel, sent, answered)
SELECT kind, survey_hour(sent_at), COALESCE(group_id, 0), COALESCE(agent_id, 0), channel,
       COUNT(*), COUNT(*) FILTER (WHERE responded)
FROM survey_invitations GROUP BY 1, 2, 3, 4, 5;
INSERT INTO survey_score_hours (kind, hour, scale, group_id, channel, score, n)
SELECT kind, hour, scale, group_id, channel, score, COUNT(*) FROM (
    SELECT i.kind, survey_hour(r.created_at) AS hour, COALESCE(s.scale, 0) AS scale, COALESCE(i.group_id, 0) AS group_id, i.channel, r.score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    UNION ALL
    SELECT k.kind, survey_hour(k.created_at), COALESCE(k.scale, 0), COALESCE(k.group_id, 0), 'kiosk', k.score FROM survey_kiosk_answers k) a
GROUP BY 1, 2, 3, 4, 5, 6;
INSERT INTO survey_agent_score_hours (kind, hour, scale, agent_id, score, n)
SELECT kind, hour, scale, agent_id, score, COUNT(*) FROM (
    SELECT i.kind, survey_hour(r.created_at) AS hour, COALESCE(s.scale, 0) AS scale, COALESCE(i.agent_id, 0) AS agent_id, r.score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    UNION ALL
    SELECT k.kind, survey_hour(k.created_at), COALESCE(k.scale, 0), 0, k.score FROM survey_kiosk_answers k) a
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO survey_dim_sent_hours (kind, dim, hour, value, sent, answered)
SELECT i.kind, d.dim, survey_hour(i.sent_at), d.value, COUNT(*), COUNT(*) FILTER (WHERE i.responded)
FROM survey_invitations i JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4;
INSERT INTO survey_dim_score_hours (kind, dim, hour, value, scale, score, n)
SELECT kind, dim, unit, value, scale, score, COUNT(*) FROM (
    SELECT i.kind, d.dim, survey_hour(r.created_at) AS unit, d.value, COALESCE(s.scale, 0) AS scale, r.score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    JOIN survey_invitation_dims d ON d.invitation_id = i.id
    UNION ALL
    SELECT k.kind, x.dim, survey_hour(k.created_at), '', COALESCE(k.scale, 0), k.score
    FROM survey_kiosk_answers k, (VALUES ('brand'), ('tag'), ('product')) AS x(dim)) a
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO survey_dim_sent_days (kind, dim, day, value, sent, answered)
SELECT i.kind, d.dim, (i.sent_at AT TIME ZONE 'UTC')::date, d.value, COUNT(*), COUNT(*) FILTER (WHERE i.responded)
FROM survey_invitations i JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4;
INSERT INTO survey_dim_score_days (kind, dim, day, value, scale, score, n)
SELECT kind, dim, unit, value, scale, score, COUNT(*) FROM (
    SELECT i.kind, d.dim, (r.created_at AT TIME ZONE 'UTC')::date AS unit, d.value, COALESCE(s.scale, 0) AS scale, r.score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    JOIN survey_invitation_dims d ON d.invitation_id = i.id
    UNION ALL
    SELECT k.kind, x.dim, (k.created_at AT TIME ZONE 'UTC')::date, '', COALESCE(k.scale, 0), k.score
    FROM survey_kiosk_answers k, (VALUES ('brand'), ('tag'), ('product')) AS x(dim)) a
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO survey_dim_sent_months (kind, dim, month, value, sent, answered)
SELECT i.kind, d.dim, date_trunc('month', i.sent_at AT TIME ZONE 'UTC')::date, d.value, COUNT(*), COUNT(*) FILTER (WHERE i.responded)
FROM survey_invitations i JOIN survey_invitation_dims d ON d.invitation_id = i.id GROUP BY 1, 2, 3, 4;
INSERT INTO survey_dim_score_months (kind, dim, month, value, scale, score, n)
SELECT kind, dim, unit, value, scale, score, COUNT(*) FROM (
    SELECT i.kind, d.dim, date_trunc('month', r.created_at AT TIME ZONE 'UTC')::date AS unit, d.value, COALESCE(s.scale, 0) AS scale, r.score
    FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id
    JOIN survey_invitation_dims d ON d.invitation_id = i.id
    UNION ALL
    SELECT k.kind, x.dim, date_trunc('month', k.created_at AT TIME ZONE 'UTC')::date, '', COALESCE(k.scale, 0), k.score
    FROM survey_kiosk_answers k, (VALUES ('brand'), ('tag'), ('product')) AS x(dim)) a
GROUP BY 1, 2, 3, 4, 5, 6;

CREATE FUNCTION survey_roll_dim_score(p_kind TEXT, p_at TIMESTAMPTZ, p_dim TEXT, p_value TEXT,
                                      p_scale SMALLINT, p_score SMALLINT, p_n BIGINT)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO survey_dim_score_hours AS d (kind, dim, hour, value, scale, score, n)
    VALUES (p_kind, p_dim, survey_hour(p_at), p_value, COALESCE(p_scale, 0), p_score, p_n)
    ON CONFLICT (kind, dim, hour, value, scale, score) DO UPDATE SET n = d.n + EXCLUDED.n;
    INSERT INTO survey_dim_score_days AS d (kind, dim, day, value, scale, score, n)
    VALUES (p_kind, p_dim, (p_at AT TIME ZONE 'UTC')::date, p_value, COALESCE(p_scale, 0), p_score, p_n)
    ON CONFLICT (kind, dim, day, value, scale, score) DO UPDATE SET n = d.n + EXCLUDED.n;
    INSERT INTO survey_dim_score_months AS d (kind, dim, month, value, scale, score, n)
    VALUES (p_kind, p_dim, date_trunc('month', p_at AT TIME ZONE 'UTC')::date, p_value, COALESCE(p_scale, 0), p_score, p_n)
    ON CONFLICT (kind, dim, month, value, scale, score) DO UPDATE SET n = d.n + EXCLUDED.n;
$$;

CREATE FUNCTION survey_roll_dim_sent(p_kind TEXT, p_at TIMESTAMPTZ, p_dim TEXT, p_value TEXT,
                                     p_sent BIGINT, p_answered BIGINT)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO survey_dim_sent_hours AS d (kind, dim, hour, value, sent, answered)
    VALUES (p_kind, p_dim, survey_hour(p_at), p_value, p_sent, p_answered)
    ON CONFLICT (kind, dim, hour, value) DO UPDATE SET sent = d.sent + EXCLUDED.sent, answered = d.answered + EXCLUDED.answered;
    INSERT INTO survey_dim_sent_days AS d (kind, dim, day, value, sent, answered)
    VALUES (p_kind, p_dim, (p_at AT TIME ZONE 'UTC')::date, p_value, p_sent, p_answered)
    ON CONFLICT (kind, dim, day, value) DO UPDATE SET sent = d.sent + EXCLUDED.sent, answered = d.answered + EXCLUDED.answered;
    INSERT INTO survey_dim_sent_months AS d (kind, dim, month, value, sent, answered)
    VALUES (p_kind, p_dim, date_trunc('month', p_at AT TIME ZONE 'UTC')::date, p_value, p_sent, p_answered)
    ON CONFLICT (kind, dim, month, value) DO UPDATE SET sent = d.sent + EXCLUDED.sent, answered = d.answered + EXCLUDED.answered;
$$;

CREATE FUNCTION survey_roll_score_hour(p_kind TEXT, p_at TIMESTAMPTZ, p_scale SMALLINT, p_group BIGINT,
                                       p_agent BIGINT, p_channel TEXT, p_score SMALLINT, p_n BIGINT)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO survey_score_hours AS d (kind, hour, scale, group_id, channel, score, n)
    VALUES (p_kind, survey_hour(p_at), COALESCE(p_scale, 0), COALESCE(p_group, 0), p_channel, p_score, p_n)
    ON CONFLICT (kind, hour, scale, group_id, channel, score) DO UPDATE SET n = d.n + EXCLUDED.n;
    INSERT INTO survey_agent_score_hours AS d (kind, hour, scale, agent_id, score, n)
    VALUES (p_kind, survey_hour(p_at), COALESCE(p_scale, 0), COALESCE(p_agent, 0), p_score, p_n)
    ON CONFLICT (kind, hour, scale, agent_id, score) DO UPDATE SET n = d.n + EXCLUDED.n;
$$;

CREATE FUNCTION survey_roll_sent_hour(p_kind TEXT, p_at TIMESTAMPTZ, p_group BIGINT, p_agent BIGINT,
                                      p_channel TEXT, p_sent BIGINT, p_answered BIGINT)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO survey_sent_hours AS d (kind, hour, group_id, agent_id, channel, sent, answered)
    VALUES (p_kind, survey_hour(p_at), COALESCE(p_group, 0), COALESCE(p_agent, 0), p_channel, p_sent, p_answered)
    ON CONFLICT (kind, hour, group_id, agent_id, channel)
    DO UPDATE SET sent = d.sent + EXCLUDED.sent, answered = d.answered + EXCLUDED.answered;
$$;

-- Invitations → sent per hour; their dimension rows follow a change of time or answer.
CREATE FUNCTION survey_invitations_roll_dims() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d RECORD;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM survey_roll_sent_hour(OLD.kind, OLD.sent_at, OLD.group_id, OLD.agent_id, OLD.channel, -1,
                                      -(CASE WHEN OLD.responded THEN 1 ELSE 0 END));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM survey_roll_sent_hour(NEW.kind, NEW.sent_at, NEW.group_id, NEW.agent_id, NEW.channel, 1,
                                      CASE WHEN NEW.responded THEN 1 ELSE 0 END);
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.kind, OLD.sent_at, OLD.responded) IS DISTINCT FROM (NEW.kind, NEW.sent_at, NEW.responded)) THEN
        FOR d IN SELECT dim, value FROM survey_invitation_dims WHERE invitation_id = OLD.id ORDER BY dim, value LOOP
            PERFORM survey_roll_dim_sent(OLD.kind, OLD.sent_at, d.dim, d.value, -1, -(CASE WHEN OLD.responded THEN 1 ELSE 0 END));
            IF TG_OP = 'UPDATE' THEN
                PERFORM survey_roll_dim_sent(NEW.kind, NEW.sent_at, d.dim, d.value, 1, CASE WHEN NEW.responded THEN 1 ELSE 0 END);
            END IF;
        END LOOP;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER survey_invitations_roll_dims
AFTER INSERT OR DELETE OR UPDATE OF kind, sent_at, group_id, agent_id, channel, responded ON survey_invitations
FOR EACH ROW EXECUTE FUNCTION survey_invitations_roll_dims();

-- A dimension row → its invitation's sent count (and its answer, when there is one).
CREATE FUNCTION survey_invitation_dims_roll() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_ survey_invitation_dims%ROWTYPE;
    dir BIGINT;
    i RECORD;
BEGIN
    IF TG_OP = 'DELETE' THEN row_ := OLD; dir := -1; ELSE row_ := NEW; dir := 1; END IF;
    SELECT iv.kind, iv.sent_at, iv.responded, s.scale INTO i
    FROM survey_invitations iv JOIN surveys s ON s.id = iv.survey_id WHERE iv.id = row_.invitation_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM survey_roll_dim_sent(i.kind, i.sent_at, row_.dim, row_.value, dir, dir * (CASE WHEN i.responded THEN 1 ELSE 0 END));
    PERFORM survey_roll_dim_score(i.kind, r.created_at, row_.dim, row_.value, i.scale, r.score, dir)
    FROM survey_responses r WHERE r.invitation_id = row_.invitation_id;
    RETURN NULL;
END $$;
CREATE TRIGGER survey_invitation_dims_roll AFTER INSERT OR DELETE ON survey_invitation_dims
FOR EACH ROW EXECUTE FUNCTION survey_invitation_dims_roll();

-- Responses → answers per hour and per dimension value.
CREATE FUNCTION survey_responses_roll_dims() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    i RECORD;
    d RECORD;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT iv.id, iv.kind, s.scale, iv.group_id, iv.agent_id, iv.channel INTO i
        FROM survey_invitations iv JOIN surveys s ON s.id = iv.survey_id WHERE iv.id = OLD.invitation_id;
        IF FOUND THEN
            PERFORM survey_roll_score_hour(i.kind, OLD.created_at, i.scale, i.group_id, i.agent_id, i.channel, OLD.score, -1);
            FOR d IN SELECT dim, value FROM survey_invitation_dims WHERE invitation_id = i.id ORDER BY dim, value LOOP
                PERFORM survey_roll_dim_score(i.kind, OLD.created_at, d.dim, d.value, i.scale, OLD.score, -1);
            END LOOP;
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT iv.id, iv.kind, s.scale, iv.group_id, iv.agent_id, iv.channel INTO i
        FROM survey_invitations iv JOIN surveys s ON s.id = iv.survey_id WHERE iv.id = NEW.invitation_id;
        IF FOUND THEN
            PERFORM survey_roll_score_hour(i.kind, NEW.created_at, i.scale, i.group_id, i.agent_id, i.channel, NEW.score, 1);
            FOR d IN SELECT dim, value FROM survey_invitation_dims WHERE invitation_id = i.id ORDER BY dim, value LOOP
                PERFORM survey_roll_dim_score(i.kind, NEW.created_at, d.dim, d.value, i.scale, NEW.score, 1);
            END LOOP;
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER survey_responses_roll_dims
AFTER INSERT OR DELETE OR UPDATE OF score, created_at, invitation_id ON survey_responses
FOR EACH ROW EXECUTE FUNCTION survey_responses_roll_dims();

-- Kiosk answers → per hour (channel kiosk, no agent), and under "none" for brand, tag, product.
CREATE FUNCTION survey_kiosk_answers_roll_dims() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k survey_kiosk_answers%ROWTYPE;
    dir BIGINT;
BEGIN
    IF TG_OP = 'DELETE' THEN k := OLD; dir := -1; ELSE k := NEW; dir := 1; END IF;
    PERFORM survey_roll_score_hour(k.kind, k.created_at, k.scale, k.group_id, NULL, 'kiosk', k.score, dir);
    PERFORM survey_roll_dim_score(k.kind, k.created_at, x.dim, '', k.scale, k.score, dir)
    FROM (VALUES ('brand'), ('tag'), ('product')) AS x(dim);
    RETURN NULL;
END $$;
CREATE TRIGGER survey_kiosk_answers_roll_dims AFTER INSERT OR DELETE ON survey_kiosk_answers
FOR EACH ROW EXECUTE FUNCTION survey_kiosk_answers_roll_dims();
