//! Satisfaction surveys' storage: definitions, invitations, responses, the solve scan, and
//! answer counts for the score math. A response and the follow-up ticket it opens are one
//! write.

use crate::conv::{append_event, audit, json, time, to_json, us};
use crate::tickets::create_ticket_tx;
use crate::{db, SqliteStore};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use tend_core::{Actor, Change};
use tend_store::survey::*;
use tend_store::*;

const SURVEY_COLS: &str = "id, name, kind, scale, question, follow_up, delay_hours, throttle_days, sample_rate, expires_days, active, created_at, rules, questions";

fn survey_row(r: &Row) -> rusqlite::Result<Survey> {
    let kind: String = r.get(2)?;
    Ok(Survey {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: SurveyKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(
                2,
                format!("bad kind {kind}"),
                rusqlite::types::Type::Text,
            )
        })?,
        scale: r.get::<_, Option<i64>>(3)?.map(|v| v as u8),
        question: json(&r.get::<_, String>(4)?)?,
        follow_up: json(&r.get::<_, String>(5)?)?,
        delay_hours: r.get(6)?,
        throttle_days: r.get(7)?,
        sample_rate: r.get(8)?,
        expires_days: r.get(9)?,
        active: r.get(10)?,
        created_at: time(r.get(11)?),
        rules: json(&r.get::<_, String>(12)?)?,
        questions: json(&r.get::<_, String>(13)?)?,
    })
}

const INVITATION_COLS: &str = "i.id, i.survey_id, i.kind, i.ticket_id, i.customer_id, i.agent_id, i.group_id, i.channel, i.brand_id, i.sent_at, i.expires_at, i.responded, i.order_id, i.reminded_at";

fn invitation_row(r: &Row) -> rusqlite::Result<SurveyInvitation> {
    let kind: String = r.get(2)?;
    Ok(SurveyInvitation {
        id: r.get(0)?,
        survey_id: r.get(1)?,
        kind: SurveyKind::parse(&kind).unwrap_or(SurveyKind::Nps),
        ticket_id: Some(r.get::<_, i64>(3)?).filter(|id| *id != 0),
        customer_id: r.get(4)?,
        agent_id: r.get(5)?,
        group_id: r.get(6)?,
        channel: r.get(7)?,
        brand_id: r.get(8)?,
        sent_at: time(r.get(9)?),
        expires_at: time(r.get(10)?),
        responded: r.get(11)?,
        order_id: r.get(12)?,
        reminded_at: r.get::<_, Option<i64>>(13)?.map(time),
    })
}

const RESPONSE_COLS: &str =
    "id, invitation_id, score, comment, created_at, updated_at, edits, follow_up_ticket_id, incentive_code, answers";

fn response_row(r: &Row) -> rusqlite::Result<SurveyResponse> {
    response_row_at(r, 0)
}

/// A response from the columns [`RESPONSE_COLS`] starting at `at`.
fn response_row_at(r: &Row, at: usize) -> rusqlite::Result<SurveyResponse> {
    Ok(SurveyResponse {
        id: r.get(at)?,
        invitation_id: r.get(at + 1)?,
        score: r.get::<_, i64>(at + 2)? as u8,
        comment: r.get(at + 3)?,
        created_at: time(r.get(at + 4)?),
        updated_at: time(r.get(at + 5)?),
        edits: r.get(at + 6)?,
        follow_up_ticket_id: r.get(at + 7)?,
        incentive_code: r.get(at + 8)?,
        answers: json(&r.get::<_, String>(at + 9)?)?,
    })
}

fn load_survey(c: &Connection, id: i64) -> Result<Survey> {
    c.prepare_cached(&format!("SELECT {SURVEY_COLS} FROM surveys WHERE id = ?1"))
        .map_err(db)?
        .query_row([id], survey_row)
        .optional()
        .map_err(db)?
        .ok_or(StoreError::NotFound("survey"))
}

fn load_response(c: &Connection, invitation_id: i64) -> Result<Option<SurveyResponse>> {
    c.prepare_cached(&format!(
        "SELECT {RESPONSE_COLS} FROM survey_responses WHERE invitation_id = ?1"
    ))
    .map_err(db)?
    .query_row([invitation_id], response_row)
    .optional()
    .map_err(db)
}

fn view_by_token(c: &Connection, token_hash: &[u8]) -> Result<Option<InvitationView>> {
    view_where(
        c,
        "i.token_hash = ?1 OR i.reminder_token_hash = ?1",
        &token_hash,
    )
}

fn view_where(
    c: &Connection,
    where_: &str,
    key: &dyn rusqlite::ToSql,
) -> Result<Option<InvitationView>> {
    let Some(invitation) = c
        .prepare_cached(&format!(
            "SELECT {INVITATION_COLS} FROM survey_invitations i WHERE {where_}"
        ))
        .map_err(db)?
        .query_row([key], invitation_row)
        .optional()
        .map_err(db)?
    else {
        return Ok(None);
    };
    let survey = load_survey(c, invitation.survey_id)?;
    let response = load_response(c, invitation.id)?;
    Ok(Some(InvitationView {
        invitation,
        survey,
        response,
    }))
}

/// Opens the follow-up ticket and links it both ways with the surveyed ticket.
fn open_follow_up(c: &Connection, surveyed: i64, new: FollowUp, now: DateTime<Utc>) -> Result<i64> {
    let t = create_ticket_tx(c, new, Actor::SYSTEM, now)?.value;
    for (on, other, relation) in [
        (t.id, surveyed, "survey_follow_up_of"),
        (surveyed, t.id, "survey_followed_up_by"),
    ] {
        let exists: bool = c
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM tickets WHERE id = ?1)")
            .map_err(db)?
            .query_row([on], |r| r.get(0))
            .map_err(db)?;
        if !exists {
            continue;
        }
        let seq = append_event(
            c,
            on,
            Actor::SYSTEM,
            now,
            &Change::Linked {
                ticket_id: other,
                relation: relation.into(),
            },
            true,
        )?;
        c.prepare_cached("UPDATE tickets SET last_seq = ?2 WHERE id = ?1")
            .map_err(db)?
            .execute(params![on, seq])
            .map_err(db)?;
    }
    Ok(t.id)
}

fn respond_tx(
    c: &Connection,
    key: &InvitationKey,
    answer: SurveyAnswer,
    follow_up: Option<FollowUp>,
    now: DateTime<Utc>,
) -> Result<Answered> {
    let view = match key {
        InvitationKey::TokenHash(h) => view_by_token(c, h)?,
        InvitationKey::Id(id) => view_by_id(c, *id)?,
    };
    let Some(view) = view else {
        return Ok(Answered::Unknown);
    };
    let inv = &view.invitation;
    let first = match &view.response {
        Some(r)
            if r.score == answer.score
                && r.comment == answer.comment
                && r.answers == answer.answers =>
        {
            return Ok(Answered::AlreadyRecorded(r.clone()));
        }
        Some(r) if !r.editable(now) => return Ok(Answered::AlreadyRecorded(r.clone())),
        Some(r) => {
            c.prepare_cached("UPDATE survey_responses SET score = ?2, comment = ?3, updated_at = ?4, answers = ?5, edits = edits + 1 WHERE id = ?1 AND edits = 0")
                .map_err(db)?
                .execute(params![r.id, answer.score, answer.comment, us(now), to_json(&answer.answers)])
                .map_err(db)?;
            false
        }
        None if inv.expires_at <= now => return Ok(Answered::Expired),
        None => {
            c.prepare_cached("INSERT INTO survey_responses(invitation_id, score, comment, created_at, updated_at, incentive_code, answers) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)")
                .map_err(db)?
                .execute(params![inv.id, answer.score, answer.comment, us(now), answer.incentive_code, to_json(&answer.answers)])
                .map_err(db)?;
            c.prepare_cached("UPDATE survey_invitations SET responded = 1 WHERE id = ?1")
                .map_err(db)?
                .execute([inv.id])
                .map_err(db)?;
            true
        }
    };
    let had_follow_up = view
        .response
        .as_ref()
        .and_then(|r| r.follow_up_ticket_id)
        .is_some();
    if let (Some(new), false) = (follow_up, had_follow_up) {
        let ticket = open_follow_up(c, inv.ticket_id.unwrap_or(0), new, now)?;
        c.prepare_cached(
            "UPDATE survey_responses SET follow_up_ticket_id = ?2 WHERE invitation_id = ?1",
        )
        .map_err(db)?
        .execute(params![inv.id, ticket])
        .map_err(db)?;
    }
    let r = load_response(c, inv.id)?.ok_or(StoreError::NotFound("survey response"))?;
    if let Some(ticket) = inv.ticket_id {
        mark_ticket(
            c,
            ticket,
            Actor::customer(inv.customer_id),
            now,
            &tend_core::survey_dims::answered_event(
                inv.id,
                inv.kind.as_str(),
                view.survey.scale,
                r.score,
                &r.comment,
                !first,
            ),
        )?;
    }
    Ok(if first {
        Answered::Recorded(r)
    } else {
        Answered::Edited(r)
    })
}

/// What the invitation is about as it is sent: brand, tags, products ('' for none).
fn insert_dims(c: &Connection, id: i64, new: &NewInvitation) -> Result<()> {
    use tend_core::survey_dims::{DIM_BRAND, DIM_PRODUCT, DIM_TAG};
    let none = [String::new()];
    let brand = [new.brand_id.map(|b| b.to_string()).unwrap_or_default()];
    let tags: &[String] = if new.tags.is_empty() {
        &none
    } else {
        &new.tags
    };
    let products: &[String] = if new.products.is_empty() {
        &none
    } else {
        &new.products
    };
    let mut stmt = c
        .prepare_cached("INSERT OR IGNORE INTO survey_invitation_dims(invitation_id, dim, value) VALUES (?1, ?2, ?3)")
        .map_err(db)?;
    for (dim, values) in [
        (DIM_BRAND, &brand[..]),
        (DIM_TAG, tags),
        (DIM_PRODUCT, products),
    ] {
        for v in values {
            stmt.execute(params![id, dim, v]).map_err(db)?;
        }
    }
    Ok(())
}

/// Appends a survey mark to a ticket's timeline (when the ticket exists) and moves its
/// `last_seq`, without touching `updated_at` or the SLA check.
fn mark_ticket(
    c: &Connection,
    ticket: i64,
    actor: Actor,
    now: DateTime<Utc>,
    change: &Change,
) -> Result<()> {
    let exists: bool = c
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM tickets WHERE id = ?1)")
        .map_err(db)?
        .query_row([ticket], |r| r.get(0))
        .map_err(db)?;
    if !exists {
        return Ok(());
    }
    let seq = append_event(c, ticket, actor, now, change, true)?;
    c.prepare_cached("UPDATE tickets SET last_seq = ?2 WHERE id = ?1")
        .map_err(db)?
        .execute(params![ticket, seq])
        .map_err(db)?;
    Ok(())
}

fn open_invitation_tx(
    c: &Connection,
    new: NewInvitation,
    now: DateTime<Utc>,
) -> Result<InvitationOpened> {
    let survey = load_survey(c, new.survey_id)?;
    let own: Option<(i64, bool)> = c
        .prepare_cached("SELECT id, responded FROM survey_invitations WHERE send_key = ?1")
        .map_err(db)?
        .query_row([&new.send_key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(db)?;
    let id = match own {
        Some((_, true)) => return Ok(InvitationOpened::AlreadyAnswered),
        Some((id, false)) => {
            c.prepare_cached("UPDATE survey_invitations SET token_hash = ?2, sent_at = ?3, expires_at = ?4 WHERE id = ?1")
                .map_err(db)?
                .execute(params![id, new.token_hash, us(now), us(new.expires_at)])
                .map_err(db)?;
            id
        }
        None => {
            let since = now - Duration::days(survey.throttle_days);
            let throttled: bool = c
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM survey_invitations WHERE customer_id = ?1 AND kind = ?2 AND sent_at > ?3)")
                .map_err(db)?
                .query_row(params![new.customer_id, survey.kind.as_str(), us(since)], |r| r.get(0))
                .map_err(db)?;
            if throttled {
                return Ok(InvitationOpened::Throttled);
            }
            c.prepare_cached("INSERT INTO survey_invitations(survey_id, kind, ticket_id, customer_id, agent_id, group_id, channel, brand_id, send_key, token_hash, sent_at, expires_at, order_id) \
                              VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)")
                .map_err(db)?
                .execute(params![
                    new.survey_id,
                    survey.kind.as_str(),
                    new.ticket_id.unwrap_or(0),
                    new.customer_id,
                    new.agent_id,
                    new.group_id,
                    new.channel,
                    new.brand_id,
                    new.send_key,
                    new.token_hash,
                    us(now),
                    us(new.expires_at),
                    new.order_id
                ])
                .map_err(db)?;
            let id = c.last_insert_rowid();
            insert_dims(c, id, &new)?;
            if let Some(ticket) = new.ticket_id {
                mark_ticket(
                    c,
                    ticket,
                    Actor::SYSTEM,
                    now,
                    &Change::SurveySent {
                        invitation_id: id,
                        survey_id: new.survey_id,
                        survey_kind: survey.kind.as_str().into(),
                        to: new.recipient.clone(),
                    },
                )?;
            }
            id
        }
    };
    let inv = c
        .prepare_cached(&format!(
            "SELECT {INVITATION_COLS} FROM survey_invitations i WHERE i.id = ?1"
        ))
        .map_err(db)?
        .query_row([id], invitation_row)
        .map_err(db)?;
    Ok(InvitationOpened::Created(inv))
}

fn bucket_sql(g: ScoreGroup, at: &str) -> String {
    match g {
        ScoreGroup::All => "NULL".into(),
        ScoreGroup::Month => format!("strftime('%Y-%m', {at} / 1000000, 'unixepoch')"),
        ScoreGroup::Group => "CAST(i.group_id AS TEXT)".into(),
        ScoreGroup::Agent => "CAST(i.agent_id AS TEXT)".into(),
        ScoreGroup::Channel => "i.channel".into(),
        ScoreGroup::Brand | ScoreGroup::Tag | ScoreGroup::Product => "NULLIF(d.value, '')".into(),
    }
}

/// The join to an invitation's snapshot rows (`d`) for brand, tag and product (`?4` = dim).
fn dims_join(g: ScoreGroup) -> &'static str {
    if g.dim().is_some() {
        "JOIN survey_invitation_dims d ON d.invitation_id = i.id AND d.dim = ?4"
    } else {
        ""
    }
}

/// The bucket of a kiosk answer (`k`): kiosks have no agent and the channel `kiosk`.
fn kiosk_bucket_sql(g: ScoreGroup) -> String {
    match g {
        // Kiosks have no agent, brand, tags or products.
        ScoreGroup::All
        | ScoreGroup::Agent
        | ScoreGroup::Brand
        | ScoreGroup::Tag
        | ScoreGroup::Product => "NULL".into(),
        ScoreGroup::Month => "strftime('%Y-%m', k.created_at / 1000000, 'unixepoch')".into(),
        ScoreGroup::Group => "CAST(k.group_id AS TEXT)".into(),
        ScoreGroup::Channel => format!("'{KIOSK_CHANNEL}'"),
    }
}

/// The bucket of a roll-up row (`hour` in UTC hours, `day` in UTC days or `month` as
/// YYYYMM; 0 or '' for "none").
fn rollup_bucket_sql(g: ScoreGroup, unit: Unit) -> &'static str {
    match (g, unit) {
        (ScoreGroup::All, _) => "NULL",
        (ScoreGroup::Month, Unit::Months) => "printf('%04d-%02d', month / 100, month % 100)",
        (ScoreGroup::Month, Unit::Days) => "strftime('%Y-%m', day * 86400, 'unixepoch')",
        (ScoreGroup::Month, Unit::Hours) => "strftime('%Y-%m', hour * 3600, 'unixepoch')",
        (ScoreGroup::Group, _) => "CAST(NULLIF(group_id, 0) AS TEXT)",
        (ScoreGroup::Agent, _) => "CAST(NULLIF(agent_id, 0) AS TEXT)",
        (ScoreGroup::Channel, _) => "channel",
        (ScoreGroup::Brand | ScoreGroup::Tag | ScoreGroup::Product, _) => "NULLIF(value, '')",
    }
}

const DAY_US: i64 = 86_400_000_000;
const HOUR_US: i64 = 3_600_000_000;

/// A roll-up level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Hours,
    Days,
    Months,
}

impl Unit {
    /// The key column and the plural used in table names.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Unit::Hours => ("hour", "hours"),
            Unit::Days => ("day", "days"),
            Unit::Months => ("month", "months"),
        }
    }

    fn key(self, t: DateTime<Utc>) -> i64 {
        use chrono::Datelike;
        match self {
            Unit::Hours => us(t).div_euclid(HOUR_US),
            Unit::Days => us(t).div_euclid(DAY_US),
            Unit::Months => i64::from(t.year()) * 100 + i64::from(t.month()),
        }
    }
}

/// The answer and sent roll-up tables of a split at a level.
fn rollup_tables(g: ScoreGroup, unit: Unit) -> (String, String) {
    let (_, pl) = unit.names();
    if g.dim().is_some() {
        (
            format!("survey_dim_score_{pl}"),
            format!("survey_dim_sent_{pl}"),
        )
    } else if g == ScoreGroup::Agent {
        (
            format!("survey_agent_score_{pl}"),
            format!("survey_sent_{pl}"),
        )
    } else {
        (format!("survey_score_{pl}"), format!("survey_sent_{pl}"))
    }
}

fn score_count(r: &Row) -> rusqlite::Result<ScoreCount> {
    Ok(ScoreCount {
        bucket: r.get(0)?,
        scale: r.get::<_, Option<i64>>(1)?.map(|v| v as u8),
        score: r.get::<_, i64>(2)? as u8,
        count: r.get::<_, i64>(3)? as u64,
    })
}

fn sent_count(r: &Row) -> rusqlite::Result<SentCount> {
    Ok(SentCount {
        bucket: r.get(0)?,
        sent: r.get::<_, i64>(1)? as u64,
        answered: r.get::<_, i64>(2)? as u64,
    })
}

/// Counts from the per-month, per-day or per-hour roll-ups (`from`/`to` aligned to them,
/// or open).
fn counts_rolled_up(c: &Connection, q: &ScoreQuery, unit: Unit) -> Result<SurveyCounts> {
    let from = q.from.map(|t| unit.key(t)).unwrap_or(i64::MIN);
    let to = q.to.map(|t| unit.key(t)).unwrap_or(i64::MAX);
    let b = rollup_bucket_sql(q.group_by, unit);
    let (col, _) = unit.names();
    let (table, sent_table) = rollup_tables(q.group_by, unit);
    let kind = q.kind.as_str();
    let dim = q.group_by.dim();
    let mut ps: Vec<&dyn rusqlite::ToSql> = vec![&kind, &from, &to];
    let dim_where = match &dim {
        Some(d) => {
            ps.push(d);
            " AND dim = ?4"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {b} AS bucket, NULLIF(scale, 0) AS sc, score, SUM(n) FROM {table} \
         WHERE kind = ?1{dim_where} AND {col} >= ?2 AND {col} < ?3 \
         GROUP BY bucket, sc, score HAVING SUM(n) <> 0 ORDER BY bucket, sc, score"
    );
    let answers = c
        .prepare_cached(&sql)
        .map_err(db)?
        .query_map(&*ps, score_count)
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let sql = format!(
        "SELECT {b} AS bucket, SUM(sent), SUM(answered) FROM {sent_table} \
         WHERE kind = ?1{dim_where} AND {col} >= ?2 AND {col} < ?3 GROUP BY bucket HAVING SUM(sent) <> 0 ORDER BY bucket"
    );
    let sent = c
        .prepare_cached(&sql)
        .map_err(db)?
        .query_map(&*ps, sent_count)
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok(SurveyCounts { answers, sent })
}

/// Counts from every answer and invitation (any `from`/`to`).
fn counts_by_row(c: &Connection, q: &ScoreQuery) -> Result<SurveyCounts> {
    let from = q.from.map(us).unwrap_or(i64::MIN);
    let to = q.to.map(us).unwrap_or(i64::MAX);
    let kind = q.kind.as_str();
    let dim = q.group_by.dim();
    let mut ps: Vec<&dyn rusqlite::ToSql> = vec![&kind, &from, &to];
    if let Some(d) = &dim {
        ps.push(d);
    }
    let join = dims_join(q.group_by);
    let sql = format!(
        "SELECT bucket, scale, score, COUNT(*) FROM ( \
           SELECT {b} AS bucket, s.scale AS scale, r.score AS score FROM survey_responses r \
           JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id {join} \
           WHERE i.kind = ?1 AND r.created_at >= ?2 AND r.created_at < ?3 \
           UNION ALL \
           SELECT {kb} AS bucket, k.scale AS scale, k.score AS score FROM survey_kiosk_answers k \
           WHERE k.kind = ?1 AND k.created_at >= ?2 AND k.created_at < ?3) \
         GROUP BY bucket, scale, score ORDER BY bucket, scale, score",
        b = bucket_sql(q.group_by, "r.created_at"),
        kb = kiosk_bucket_sql(q.group_by),
    );
    let answers = c
        .prepare_cached(&sql)
        .map_err(db)?
        .query_map(&*ps, score_count)
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    let sql = format!(
        "SELECT {b} AS bucket, COUNT(*), COALESCE(SUM(i.responded), 0) FROM survey_invitations i {join} \
         WHERE i.kind = ?1 AND i.sent_at >= ?2 AND i.sent_at < ?3 GROUP BY bucket ORDER BY bucket",
        b = bucket_sql(q.group_by, "i.sent_at")
    );
    let sent = c
        .prepare_cached(&sql)
        .map_err(db)?
        .query_map(&*ps, sent_count)
        .map_err(db)?
        .collect::<rusqlite::Result<_>>()
        .map_err(db)?;
    Ok(SurveyCounts { answers, sent })
}

const KIOSK_COLS: &str =
    "id, survey_id, name, group_id, created_at, revoked_at, token_hash, embed_origins";

fn kiosk_row(r: &Row) -> rusqlite::Result<SurveyKiosk> {
    Ok(SurveyKiosk {
        id: r.get(0)?,
        survey_id: r.get(1)?,
        name: r.get(2)?,
        group_id: r.get(3)?,
        created_at: time(r.get(4)?),
        revoked_at: r.get::<_, Option<i64>>(5)?.map(time),
        token_hash: r.get(6)?,
        embed_origins: json(&r.get::<_, String>(7)?)?,
    })
}

fn load_kiosk(c: &Connection, id: i64) -> Result<Option<SurveyKiosk>> {
    c.prepare_cached(&format!(
        "SELECT {KIOSK_COLS} FROM survey_kiosks WHERE id = ?1"
    ))
    .map_err(db)?
    .query_row([id], kiosk_row)
    .optional()
    .map_err(db)
}

fn kiosk_answers_tx(
    c: &Connection,
    kiosk_id: i64,
    answers: &[KioskAnswer],
    now: DateTime<Utc>,
) -> Result<KioskBatch> {
    let Some(kiosk) = load_kiosk(c, kiosk_id)? else {
        return Ok(KioskBatch::Revoked);
    };
    if kiosk.revoked_at.is_some() {
        return Ok(KioskBatch::Revoked);
    }
    let survey = load_survey(c, kiosk.survey_id)?;
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO survey_kiosk_answers(kiosk_id, client_id, kind, scale, group_id, score, comment, created_at, received_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (kiosk_id, client_id) DO NOTHING",
        )
        .map_err(db)?;
    let mut stored = Vec::with_capacity(answers.len());
    for a in answers {
        let n = stmt
            .execute(params![
                kiosk.id,
                a.client_id,
                survey.kind.as_str(),
                survey.scale.map(i64::from),
                kiosk.group_id,
                a.score,
                a.comment,
                us(a.answered_at),
                us(now)
            ])
            .map_err(db)?;
        stored.push(n == 1);
    }
    Ok(KioskBatch::Stored(stored))
}

impl SqliteStore {
    pub(crate) async fn create_survey_impl(
        &self,
        new: NewSurvey,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Survey> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO surveys(name, kind, scale, question, follow_up, delay_hours, throttle_days, sample_rate, expires_days, active, created_at, rules, questions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    new.name,
                    new.kind.as_str(),
                    new.scale.map(i64::from),
                    to_json(&new.question),
                    to_json(&new.follow_up),
                    new.delay_hours,
                    new.throttle_days,
                    new.sample_rate,
                    new.expires_days,
                    new.active,
                    us(now),
                    to_json(&new.rules),
                    to_json(&new.questions)
                ],
            )
            .map_err(db)?;
            let id = c.last_insert_rowid();
            // Solves from now on are surveyed, not the history.
            c.execute(
                "INSERT OR IGNORE INTO survey_scan(id, last_seq) VALUES (1, (SELECT COALESCE(MAX(seq), 0) FROM events))",
                [],
            )
            .map_err(db)?;
            audit(c, actor, "survey.created", format!("survey:{id}"), serde_json::json!({ "name": new.name, "kind": new.kind.as_str() }), now)?;
            load_survey(c, id)
        })
        .await
    }

    pub(crate) async fn list_surveys_impl(&self) -> Result<Vec<Survey>> {
        self.read(|c| {
            c.prepare_cached(&format!("SELECT {SURVEY_COLS} FROM surveys ORDER BY id"))
                .map_err(db)?
                .query_map([], survey_row)
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn get_survey_impl(&self, id: i64) -> Result<Survey> {
        self.read(move |c| load_survey(c, id)).await
    }

    pub(crate) async fn survey_scan_cursor_impl(&self) -> Result<Option<i64>> {
        self.read(|c| {
            c.prepare_cached("SELECT last_seq FROM survey_scan WHERE id = 1 AND EXISTS(SELECT 1 FROM surveys WHERE active = 1)")
                .map_err(db)?
                .query_row([], |r| r.get(0))
                .optional()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn advance_survey_scan_impl(
        &self,
        from: i64,
        to: i64,
        sends: Vec<ScheduledSend>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.write(move |c| {
            let moved = c
                .prepare_cached(
                    "UPDATE survey_scan SET last_seq = ?2 WHERE id = 1 AND last_seq = ?1",
                )
                .map_err(db)?
                .execute(params![from, to])
                .map_err(db)?;
            if moved == 0 {
                return Ok(false);
            }
            for s in &sends {
                crate::jobs::schedule(c, &s.key, &s.job, now)?;
            }
            Ok(true)
        })
        .await
    }

    pub(crate) async fn open_survey_invitation_impl(
        &self,
        new: NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<InvitationOpened> {
        self.write(move |c| open_invitation_tx(c, new, now)).await
    }

    pub(crate) async fn survey_invitation_by_token_impl(
        &self,
        token_hash: Vec<u8>,
    ) -> Result<Option<InvitationView>> {
        self.read(move |c| view_by_token(c, &token_hash)).await
    }

    pub(crate) async fn record_survey_response_impl(
        &self,
        key: InvitationKey,
        answer: SurveyAnswer,
        follow_up: Option<FollowUp>,
        now: DateTime<Utc>,
    ) -> Result<Answered> {
        self.write(move |c| respond_tx(c, &key, answer, follow_up, now))
            .await
    }

    pub(crate) async fn relationship_candidates_impl(
        &self,
        since: DateTime<Utc>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        self.read(move |c| {
            c.prepare_cached(RELATIONSHIP_SQL)
                .map_err(db)?
                .query_map(params![after_id, us(since), limit], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }

    pub(crate) async fn customer_open_invitations_impl(
        &self,
        customer_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<InvitationView>> {
        self.read(move |c| {
            let ids: Vec<i64> = c
                .prepare_cached("SELECT id FROM survey_invitations WHERE customer_id = ?1 AND responded = 0 AND expires_at > ?2 ORDER BY sent_at DESC, id DESC LIMIT 20")
                .map_err(db)?
                .query_map(params![customer_id, us(now)], |r| r.get(0))
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            let mut out = Vec::new();
            for id in ids {
                out.extend(view_by_id(c, id)?);
            }
            Ok(out)
        })
        .await
    }

    pub(crate) async fn survey_counts_impl(&self, q: ScoreQuery) -> Result<SurveyCounts> {
        self.read(move |c| {
            let parts = count_pieces(q.from, q.to)
                .into_iter()
                .map(|p| {
                    let q = ScoreQuery {
                        from: p.from,
                        to: p.to,
                        ..q.clone()
                    };
                    match p.source {
                        CountSource::Months => counts_rolled_up(c, &q, Unit::Months),
                        CountSource::Days => counts_rolled_up(c, &q, Unit::Days),
                        CountSource::Hours => counts_rolled_up(c, &q, Unit::Hours),
                        CountSource::Rows => counts_by_row(c, &q),
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(SurveyCounts::sum(parts))
        })
        .await
    }

    pub(crate) async fn create_survey_kiosk_impl(
        &self,
        new: NewKiosk,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SurveyKiosk> {
        self.write(move |c| {
            load_survey(c, new.survey_id)?;
            c.prepare_cached(
                "INSERT INTO survey_kiosks(survey_id, name, group_id, token_hash, created_at, embed_origins) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .map_err(db)?
            .execute(params![new.survey_id, new.name, new.group_id, new.token_hash, us(now), to_json(&new.embed_origins)])
            .map_err(db)?;
            let id = c.last_insert_rowid();
            audit(
                c,
                actor,
                "survey.kiosk_created",
                format!("survey:{}", new.survey_id),
                serde_json::json!({ "kiosk_id": id, "name": new.name }),
                now,
            )?;
            load_kiosk(c, id)?.ok_or(StoreError::NotFound("kiosk"))
        })
        .await
    }

    pub(crate) async fn survey_kiosks_impl(&self, survey_id: i64) -> Result<Vec<SurveyKiosk>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {KIOSK_COLS} FROM survey_kiosks WHERE survey_id = ?1 ORDER BY id"
            ))
            .map_err(db)?
            .query_map([survey_id], kiosk_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn revoke_survey_kiosk_impl(
        &self,
        survey_id: i64,
        kiosk_id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<SurveyKiosk> {
        self.write(move |c| {
            let k = load_kiosk(c, kiosk_id)?
                .filter(|k| k.survey_id == survey_id)
                .ok_or(StoreError::NotFound("kiosk"))?;
            if k.revoked_at.is_some() {
                return Ok(k);
            }
            c.prepare_cached("UPDATE survey_kiosks SET revoked_at = ?2 WHERE id = ?1")
                .map_err(db)?
                .execute(params![kiosk_id, us(now)])
                .map_err(db)?;
            audit(
                c,
                actor,
                "survey.kiosk_revoked",
                format!("survey:{survey_id}"),
                serde_json::json!({ "kiosk_id": kiosk_id }),
                now,
            )?;
            load_kiosk(c, kiosk_id)?.ok_or(StoreError::NotFound("kiosk"))
        })
        .await
    }

    pub(crate) async fn survey_kiosk_impl(&self, kiosk_id: i64) -> Result<Option<KioskView>> {
        self.read(move |c| {
            let Some(kiosk) = load_kiosk(c, kiosk_id)? else {
                return Ok(None);
            };
            let survey = load_survey(c, kiosk.survey_id)?;
            Ok(Some(KioskView { kiosk, survey }))
        })
        .await
    }

    pub(crate) async fn record_kiosk_answers_impl(
        &self,
        kiosk_id: i64,
        answers: Vec<KioskAnswer>,
        now: DateTime<Utc>,
    ) -> Result<KioskBatch> {
        self.write(move |c| kiosk_answers_tx(c, kiosk_id, &answers, now))
            .await
    }
}

// --- orders, reminders, customers at risk ------------------------------------------------

const ORDER_COLS: &str = "id, external_id, customer_id, placed_at, delivered_at, amount_cents, currency, items, created_at, updated_at";

fn order_row(r: &Row) -> rusqlite::Result<Order> {
    Ok(Order {
        id: r.get(0)?,
        external_id: r.get(1)?,
        customer_id: r.get(2)?,
        placed_at: time(r.get(3)?),
        delivered_at: r.get::<_, Option<i64>>(4)?.map(time),
        amount_cents: r.get(5)?,
        currency: r.get(6)?,
        items: json(&r.get::<_, String>(7)?)?,
        created_at: time(r.get(8)?),
        updated_at: time(r.get(9)?),
    })
}

fn load_order(c: &Connection, where_: &str, key: &dyn rusqlite::ToSql) -> Result<Option<Order>> {
    c.prepare_cached(&format!("SELECT {ORDER_COLS} FROM orders WHERE {where_}"))
        .map_err(db)?
        .query_row([key], order_row)
        .optional()
        .map_err(db)
}

impl SqliteStore {
    pub(crate) async fn upsert_order_impl(
        &self,
        new: NewOrder,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<OrderSaved> {
        self.write(move |c| {
            let exists: bool = c
                .prepare_cached("SELECT EXISTS(SELECT 1 FROM customers WHERE id = ?1)")
                .map_err(db)?
                .query_row([new.customer_id], |r| r.get(0))
                .map_err(db)?;
            if !exists {
                return Err(StoreError::NotFound("customer"));
            }
            let old = load_order(c, "external_id = ?1", &new.external_id)?;
            let items = to_json(&new.items);
            let id = match &old {
                Some(o) => {
                    c.prepare_cached("UPDATE orders SET customer_id = ?2, placed_at = ?3, delivered_at = COALESCE(?4, delivered_at), amount_cents = ?5, currency = ?6, items = ?7, updated_at = ?8 WHERE id = ?1")
                        .map_err(db)?
                        .execute(params![o.id, new.customer_id, us(new.placed_at), new.delivered_at.map(us), new.amount_cents, new.currency, items, us(now)])
                        .map_err(db)?;
                    o.id
                }
                None => {
                    c.prepare_cached("INSERT INTO orders(external_id, customer_id, placed_at, delivered_at, amount_cents, currency, items, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)")
                        .map_err(db)?
                        .execute(params![new.external_id, new.customer_id, us(new.placed_at), new.delivered_at.map(us), new.amount_cents, new.currency, items, us(now)])
                        .map_err(db)?;
                    c.last_insert_rowid()
                }
            };
            let order = load_order(c, "id = ?1", &id)?.ok_or(StoreError::NotFound("order"))?;
            let events = order_events(old.as_ref(), &order);
            for e in &events {
                let (key, job) = order_event_job(&order, e);
                crate::jobs::schedule(c, &key, &job, now)?;
            }
            audit(
                c,
                actor,
                if old.is_none() { "order.created" } else { "order.updated" },
                format!("order:{id}"),
                serde_json::json!({ "external_id": order.external_id, "events": events }),
                now,
            )?;
            Ok(OrderSaved {
                order,
                created: old.is_none(),
                events,
            })
        })
        .await
    }

    pub(crate) async fn get_order_impl(&self, id: i64) -> Result<Order> {
        self.read(move |c| load_order(c, "id = ?1", &id)?.ok_or(StoreError::NotFound("order")))
            .await
    }

    pub(crate) async fn customer_orders_impl(
        &self,
        customer_id: i64,
        limit: i64,
    ) -> Result<Vec<Order>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ORDER_COLS} FROM orders WHERE customer_id = ?1 ORDER BY placed_at DESC, id DESC LIMIT ?2"
            ))
            .map_err(db)?
            .query_map(params![customer_id, limit], order_row)
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
        })
        .await
    }

    pub(crate) async fn survey_invitation_impl(&self, id: i64) -> Result<Option<InvitationView>> {
        self.read(move |c| view_by_id(c, id)).await
    }

    pub(crate) async fn remind_survey_invitation_impl(
        &self,
        id: i64,
        token_hash: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Option<InvitationView>> {
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE survey_invitations SET reminder_token_hash = ?2, reminded_at = ?3 WHERE id = ?1 AND responded = 0 AND reminded_at IS NULL AND expires_at > ?3")
                .map_err(db)?
                .execute(params![id, token_hash, us(now)])
                .map_err(db)?;
            if n == 0 {
                return Ok(None);
            }
            view_by_id(c, id)
        })
        .await
    }

    pub(crate) async fn survey_responses_impl(
        &self,
        of: tend_store::survey::ResponsesOf,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ResponseWithInvitation>> {
        let (col, key) = of.column();
        self.read(move |c| {
            let sql = format!(
                "SELECT {INVITATION_COLS}, {r} FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id \
                 WHERE i.{col} = ?1 AND r.id < ?2 ORDER BY r.id DESC LIMIT ?3",
                r = RESPONSE_COLS
                    .split(", ")
                    .map(|c| format!("r.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let n = INVITATION_COLS.split(", ").count();
            let mut stmt = c.prepare_cached(&sql).map_err(db)?;
            let rows = stmt
                .query_map(params![key, before.unwrap_or(i64::MAX), limit], |row| {
                    Ok(ResponseWithInvitation {
                        invitation: invitation_row(row)?,
                        response: response_row_at(row, n)?,
                    })
                })
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)?;
            Ok(rows)
        })
        .await
    }

    pub(crate) async fn survey_at_risk_impl(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<AtRiskCustomer>> {
        self.read(move |c| {
            let sql = format!(
                "WITH low AS ( \
                   SELECT i.customer_id AS cid, COUNT(*) AS n, MAX(r.created_at) AS last FROM survey_responses r \
                   JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id \
                   WHERE r.created_at >= ?1 AND {LOW_ANSWER_SQL} GROUP BY i.customer_id), \
                 open AS ( \
                   SELECT t.requester_id AS cid, COUNT(DISTINCT t.id) AS n FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id \
                   WHERE g.tag IN ('survey-follow-up', 'complaint') AND t.status NOT IN ('solved', 'closed') GROUP BY t.requester_id), \
                 who AS (SELECT cid FROM low UNION SELECT cid FROM open) \
                 SELECT c.id, c.name, (SELECT value FROM customer_identities WHERE customer_id = c.id AND kind = 'email' ORDER BY id LIMIT 1), \
                        COALESCE(low.n, 0), low.last, COALESCE(open.n, 0), \
                        (SELECT i.kind || ':' || r.score FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id \
                         WHERE i.customer_id = c.id AND r.created_at >= ?1 AND {LOW_ANSWER_SQL} ORDER BY r.created_at DESC LIMIT 1) \
                 FROM who JOIN customers c ON c.id = who.cid LEFT JOIN low ON low.cid = c.id LEFT JOIN open ON open.cid = c.id \
                 ORDER BY COALESCE(open.n, 0) + COALESCE(low.n, 0) DESC, low.last DESC, c.id LIMIT ?2"
            );
            c.prepare_cached(&sql)
                .map_err(db)?
                .query_map(params![us(since), limit], |r| {
                    let last: Option<String> = r.get(6)?;
                    let (kind, score) = parse_last(last.as_deref());
                    Ok(AtRiskCustomer {
                        customer_id: r.get(0)?,
                        name: r.get(1)?,
                        email: r.get(2)?,
                        low_answers: r.get::<_, i64>(3)? as u64,
                        last_low_at: r.get::<_, Option<i64>>(4)?.map(time),
                        open_complaints: r.get::<_, i64>(5)? as u64,
                        last_kind: kind,
                        last_score: score,
                    })
                })
                .map_err(db)?
                .collect::<rusqlite::Result<_>>()
                .map_err(db)
        })
        .await
    }
}

fn view_by_id(c: &Connection, id: i64) -> Result<Option<InvitationView>> {
    view_where(c, "i.id = ?1", &id)
}
