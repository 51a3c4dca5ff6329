//! Satisfaction surveys' storage: definitions, invitations, responses, the solve scan, and
//! answer counts for the score math. A response and the follow-up ticket it opens are one
//! transaction.
//!
//! Concurrency: answering locks the invitation row (`FOR UPDATE`), so a double submit that
//! reaches two app servers at once is applied once and the second sees the first's answer.
//! Opening an invitation takes a transaction-scoped advisory lock per customer, so two send
//! jobs for the same customer cannot both pass the throttle. The scan cursor moves by
//! compare-and-set: of two servers scanning the same events, one schedules the sends.

use crate::admin::audit;
use crate::db::{execute, query, query_opt, to_json, us, DbExt};
use crate::tickets::{create_ticket_tx, enqueue_webhooks, insert_events};
use crate::PgStore;
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use tend_core::{Actor, Change};
use tend_store::survey::*;
use tend_store::*;
use tokio_postgres::Row;

type Now = DateTime<Utc>;

/// First key of the advisory locks that serialise survey sends per customer ("srvy").
const SURVEY_LOCK_NS: i32 = 0x7372_7679;

const SURVEY_COLS: &str = "id, name, kind, scale, question, follow_up, delay_hours, throttle_days, sample_rate, expires_days, active, created_at, rules, questions";

fn survey_row(r: &Row) -> Result<Survey> {
    let kind: &str = r.get(2);
    Ok(Survey {
        id: r.get(0),
        name: r.get(1),
        kind: SurveyKind::parse(kind)
            .ok_or_else(|| StoreError::Backend(format!("stored survey kind '{kind}'")))?,
        scale: r.get::<_, Option<i16>>(3).map(|v| v as u8),
        question: crate::db::from_json(r.get(4))?,
        follow_up: crate::db::from_json(r.get(5))?,
        delay_hours: r.get(6),
        throttle_days: r.get(7),
        sample_rate: r.get(8),
        expires_days: r.get(9),
        active: r.get(10),
        created_at: r.get(11),
        rules: crate::db::from_json(r.get(12))?,
        questions: crate::db::from_json(r.get(13))?,
    })
}

const INVITATION_COLS: &str = "i.id, i.survey_id, i.kind, i.ticket_id, i.customer_id, i.agent_id, i.group_id, i.channel, i.brand_id, i.sent_at, i.expires_at, i.responded, i.order_id, i.reminded_at";

fn invitation_row(r: &Row) -> SurveyInvitation {
    SurveyInvitation {
        id: r.get(0),
        survey_id: r.get(1),
        kind: SurveyKind::parse(r.get(2)).unwrap_or(SurveyKind::Nps),
        ticket_id: Some(r.get::<_, i64>(3)).filter(|id| *id != 0),
        customer_id: r.get(4),
        agent_id: r.get(5),
        group_id: r.get(6),
        channel: r.get(7),
        brand_id: r.get(8),
        sent_at: r.get(9),
        expires_at: r.get(10),
        responded: r.get(11),
        order_id: r.get(12),
        reminded_at: r.get(13),
    }
}

const RESPONSE_COLS: &str =
    "id, invitation_id, score, comment, created_at, updated_at, edits, follow_up_ticket_id, incentive_code, answers";

fn response_row(r: &Row) -> SurveyResponse {
    response_row_at(r, 0)
}

/// A response from the columns [`RESPONSE_COLS`] starting at `at`.
fn response_row_at(r: &Row, at: usize) -> SurveyResponse {
    SurveyResponse {
        id: r.get(at),
        invitation_id: r.get(at + 1),
        score: r.get::<_, i16>(at + 2) as u8,
        comment: r.get(at + 3),
        created_at: r.get(at + 4),
        updated_at: r.get(at + 5),
        edits: r.get(at + 6),
        follow_up_ticket_id: r.get(at + 7),
        incentive_code: r.get(at + 8),
        answers: serde_json::from_value(r.get(at + 9)).unwrap_or_default(),
    }
}

async fn load_survey<C: GenericClient>(c: &C, id: i64) -> Result<Survey> {
    let row = query_opt(
        c,
        &format!("SELECT {SURVEY_COLS} FROM surveys WHERE id = $1"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("survey"))?;
    survey_row(&row)
}

async fn load_response<C: GenericClient>(
    c: &C,
    invitation_id: i64,
) -> Result<Option<SurveyResponse>> {
    Ok(query_opt(
        c,
        &format!("SELECT {RESPONSE_COLS} FROM survey_responses WHERE invitation_id = $1"),
        &[&invitation_id],
    )
    .await?
    .as_ref()
    .map(response_row))
}

async fn view_by_token<C: GenericClient>(
    c: &C,
    token_hash: &[u8],
    lock: bool,
) -> Result<Option<InvitationView>> {
    view_where(
        c,
        "i.token_hash = $1 OR i.reminder_token_hash = $1",
        &token_hash,
        lock,
    )
    .await
}

async fn view_where<C: GenericClient>(
    c: &C,
    where_: &str,
    key: &(dyn tokio_postgres::types::ToSql + Sync),
    lock: bool,
) -> Result<Option<InvitationView>> {
    let sql = format!(
        "SELECT {INVITATION_COLS} FROM survey_invitations i WHERE {where_}{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let Some(row) = query_opt(c, &sql, &[key]).await? else {
        return Ok(None);
    };
    let invitation = invitation_row(&row);
    let survey = load_survey(c, invitation.survey_id).await?;
    let response = load_response(c, invitation.id).await?;
    Ok(Some(InvitationView {
        invitation,
        survey,
        response,
    }))
}

/// Appends one system event to a ticket, moves its `last_seq`, queues its webhooks.
async fn append_mark(tx: &Transaction<'_>, ticket_id: i64, change: Change, now: Now) -> Result<()> {
    append_mark_as(tx, ticket_id, Actor::SYSTEM, change, now).await
}

/// Appends one event by `actor` to a ticket, moves its `last_seq`, queues its webhooks.
async fn append_mark_as(
    tx: &Transaction<'_>,
    ticket_id: i64,
    actor: Actor,
    change: Change,
    now: Now,
) -> Result<()> {
    let kind = change.kind();
    let seqs = insert_events(tx, ticket_id, &[(actor, change.clone(), now)]).await?;
    if let Some(last) = seqs.last() {
        execute(
            tx,
            "UPDATE tickets SET last_seq = $2 WHERE id = $1",
            &[&ticket_id, last],
        )
        .await?;
        enqueue_webhooks(tx, &[(*last, kind)], now).await?;
    }
    Ok(())
}

/// Opens the follow-up ticket and links it both ways with the surveyed ticket.
async fn open_follow_up(
    tx: &Transaction<'_>,
    surveyed: i64,
    new: FollowUp,
    now: Now,
) -> Result<i64> {
    let t = create_ticket_tx(tx, new, Actor::SYSTEM, now).await?.value;
    let exists = query_opt(
        tx,
        "SELECT id FROM tickets WHERE id = $1 FOR UPDATE",
        &[&surveyed],
    )
    .await?
    .is_some();
    if exists {
        let link = |ticket_id, relation: &str| Change::Linked {
            ticket_id,
            relation: relation.into(),
        };
        append_mark(tx, t.id, link(surveyed, "survey_follow_up_of"), now).await?;
        append_mark(tx, surveyed, link(t.id, "survey_followed_up_by"), now).await?;
    }
    Ok(t.id)
}

async fn respond_tx(
    tx: &Transaction<'_>,
    key: &InvitationKey,
    answer: SurveyAnswer,
    follow_up: Option<FollowUp>,
    now: Now,
) -> Result<Answered> {
    let view = match key {
        InvitationKey::TokenHash(h) => view_by_token(tx, h, true).await?,
        InvitationKey::Id(id) => view_where(tx, "i.id = $1", id, true).await?,
    };
    let Some(view) = view else {
        return Ok(Answered::Unknown);
    };
    let inv = &view.invitation;
    let score = i16::from(answer.score);
    let answers = to_json(&answer.answers)?;
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
            execute(
                tx,
                "UPDATE survey_responses SET score = $2, comment = $3, updated_at = $4, answers = $5, edits = edits + 1 WHERE id = $1 AND edits = 0",
                &[&r.id, &score, &answer.comment, &now, &answers],
            )
            .await?;
            false
        }
        None if inv.expires_at <= now => return Ok(Answered::Expired),
        None => {
            execute(
                tx,
                "INSERT INTO survey_responses (invitation_id, score, comment, created_at, updated_at, incentive_code, answers) VALUES ($1, $2, $3, $4, $4, $5, $6)",
                &[&inv.id, &score, &answer.comment, &now, &answer.incentive_code, &answers],
            )
            .await?;
            execute(
                tx,
                "UPDATE survey_invitations SET responded = TRUE WHERE id = $1",
                &[&inv.id],
            )
            .await?;
            true
        }
    };
    let had_follow_up = view
        .response
        .as_ref()
        .and_then(|r| r.follow_up_ticket_id)
        .is_some();
    if let (Some(new), false) = (follow_up, had_follow_up) {
        let ticket = open_follow_up(tx, inv.ticket_id.unwrap_or(0), new, now).await?;
        execute(
            tx,
            "UPDATE survey_responses SET follow_up_ticket_id = $2 WHERE invitation_id = $1",
            &[&inv.id, &ticket],
        )
        .await?;
    }
    let r = load_response(tx, inv.id)
        .await?
        .ok_or(StoreError::NotFound("survey response"))?;
    if let Some(ticket) = inv.ticket_id {
        mark_ticket(
            tx,
            ticket,
            Actor::customer(inv.customer_id),
            tend_core::survey_dims::answered_event(
                inv.id,
                inv.kind.as_str(),
                view.survey.scale,
                r.score,
                &r.comment,
                !first,
            ),
            now,
        )
        .await?;
    }
    Ok(if first {
        Answered::Recorded(r)
    } else {
        Answered::Edited(r)
    })
}

/// What the invitation is about as it is sent: brand, tags, products ('' for none).
async fn insert_dims(tx: &Transaction<'_>, id: i64, new: &NewInvitation) -> Result<()> {
    use tend_core::survey_dims::{DIM_BRAND, DIM_PRODUCT, DIM_TAG};
    let mut dims: Vec<&str> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut push = |dim: &'static str, vs: &[String]| {
        if vs.is_empty() {
            dims.push(dim);
            values.push(String::new());
        }
        for v in vs {
            dims.push(dim);
            values.push(v.clone());
        }
    };
    push(
        DIM_BRAND,
        &[new.brand_id.map(|b| b.to_string()).unwrap_or_default()],
    );
    push(DIM_TAG, &new.tags);
    push(DIM_PRODUCT, &new.products);
    execute(
        tx,
        "INSERT INTO survey_invitation_dims (invitation_id, dim, value) \
         SELECT $1, d, v FROM unnest($2::text[], $3::text[]) AS u(d, v) ORDER BY d, v ON CONFLICT DO NOTHING",
        &[&id, &dims, &values],
    )
    .await?;
    Ok(())
}

/// Appends a survey mark to a ticket's timeline when the ticket exists (locking its row, as
/// every ticket write does), without touching `updated_at` or the SLA check.
async fn mark_ticket(
    tx: &Transaction<'_>,
    ticket: i64,
    actor: Actor,
    change: Change,
    now: Now,
) -> Result<()> {
    let exists = query_opt(
        tx,
        "SELECT id FROM tickets WHERE id = $1 FOR UPDATE",
        &[&ticket],
    )
    .await?
    .is_some();
    if exists {
        append_mark_as(tx, ticket, actor, change, now).await?;
    }
    Ok(())
}

async fn open_invitation_tx(
    tx: &Transaction<'_>,
    new: NewInvitation,
    now: Now,
) -> Result<InvitationOpened> {
    let survey = load_survey(tx, new.survey_id).await?;
    execute(
        tx,
        "SELECT pg_advisory_xact_lock($1, ($2::bigint % 2147483647)::int4)",
        &[&SURVEY_LOCK_NS, &new.customer_id],
    )
    .await?;
    let own = query_opt(
        tx,
        "SELECT id, responded FROM survey_invitations WHERE send_key = $1",
        &[&new.send_key],
    )
    .await?
    .map(|r| (r.get::<_, i64>(0), r.get::<_, bool>(1)));
    let expires_at = us(new.expires_at);
    let id = match own {
        Some((_, true)) => return Ok(InvitationOpened::AlreadyAnswered),
        Some((id, false)) => {
            execute(
                tx,
                "UPDATE survey_invitations SET token_hash = $2, sent_at = $3, expires_at = $4 WHERE id = $1",
                &[&id, &new.token_hash, &now, &expires_at],
            )
            .await?;
            id
        }
        None => {
            let since = now - Duration::days(survey.throttle_days);
            let throttled = query_opt(
                tx,
                "SELECT 1 FROM survey_invitations WHERE customer_id = $1 AND kind = $2 AND sent_at > $3 LIMIT 1",
                &[&new.customer_id, &survey.kind.as_str(), &since],
            )
            .await?
            .is_some();
            if throttled {
                return Ok(InvitationOpened::Throttled);
            }
            let id: i64 = query_opt(
                tx,
                "INSERT INTO survey_invitations (survey_id, kind, ticket_id, customer_id, agent_id, group_id, channel, brand_id, send_key, token_hash, sent_at, expires_at, order_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                &[
                    &new.survey_id,
                    &survey.kind.as_str(),
                    &new.ticket_id.unwrap_or(0),
                    &new.customer_id,
                    &new.agent_id,
                    &new.group_id,
                    &new.channel,
                    &new.brand_id,
                    &new.send_key,
                    &new.token_hash,
                    &now,
                    &expires_at,
                    &new.order_id,
                ],
            )
            .await?
            .ok_or_else(|| StoreError::Backend("insert returned nothing".into()))?
            .get(0);
            insert_dims(tx, id, &new).await?;
            if let Some(ticket) = new.ticket_id {
                mark_ticket(
                    tx,
                    ticket,
                    Actor::SYSTEM,
                    Change::SurveySent {
                        invitation_id: id,
                        survey_id: new.survey_id,
                        survey_kind: survey.kind.as_str().into(),
                        to: new.recipient.clone(),
                    },
                    now,
                )
                .await?;
            }
            id
        }
    };
    let row = query_opt(
        tx,
        &format!("SELECT {INVITATION_COLS} FROM survey_invitations i WHERE i.id = $1"),
        &[&id],
    )
    .await?
    .ok_or(StoreError::NotFound("survey invitation"))?;
    Ok(InvitationOpened::Created(invitation_row(&row)))
}

fn bucket_sql(g: ScoreGroup, at: &str) -> String {
    match g {
        ScoreGroup::All => "NULL::text".into(),
        ScoreGroup::Month => format!("to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM')"),
        ScoreGroup::Group => "i.group_id::text".into(),
        ScoreGroup::Agent => "i.agent_id::text".into(),
        ScoreGroup::Channel => "i.channel".into(),
        ScoreGroup::Brand | ScoreGroup::Tag | ScoreGroup::Product => "NULLIF(d.value, '')".into(),
    }
}

/// The join to an invitation's snapshot rows (`d`) for brand, tag and product (`$4` = dim).
fn dims_join(g: ScoreGroup) -> &'static str {
    if g.dim().is_some() {
        "JOIN survey_invitation_dims d ON d.invitation_id = i.id AND d.dim = $4"
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
        | ScoreGroup::Product => "NULL::text".into(),
        ScoreGroup::Month => "to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM')".into(),
        ScoreGroup::Group => "k.group_id::text".into(),
        ScoreGroup::Channel => format!("'{KIOSK_CHANNEL}'::text"),
    }
}

/// The bucket of a roll-up row (`hour` in UTC hours since 1970, `day` a UTC date or `month`
/// its first day; 0 or '' for "none").
fn rollup_bucket_sql(g: ScoreGroup, unit: Unit) -> &'static str {
    match (g, unit) {
        (ScoreGroup::All, _) => "NULL::text",
        (ScoreGroup::Month, Unit::Months) => "to_char(month, 'YYYY-MM')",
        (ScoreGroup::Month, Unit::Days) => "to_char(day, 'YYYY-MM')",
        (ScoreGroup::Month, Unit::Hours) => {
            "to_char(to_timestamp(hour * 3600) AT TIME ZONE 'UTC', 'YYYY-MM')"
        }
        (ScoreGroup::Group, _) => "NULLIF(group_id, 0)::text",
        (ScoreGroup::Agent, _) => "NULLIF(agent_id, 0)::text",
        (ScoreGroup::Channel, _) => "channel",
        (ScoreGroup::Brand | ScoreGroup::Tag | ScoreGroup::Product, _) => "NULLIF(value, '')",
    }
}

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

fn score_count(r: &Row) -> ScoreCount {
    ScoreCount {
        bucket: r.get(0),
        scale: r.get::<_, Option<i16>>(1).map(|v| v as u8),
        score: r.get::<_, i16>(2) as u8,
        count: r.get::<_, i64>(3) as u64,
    }
}

fn sent_count(r: &Row) -> SentCount {
    SentCount {
        bucket: r.get(0),
        sent: r.get::<_, i64>(1) as u64,
        answered: r.get::<_, i64>(2) as u64,
    }
}

/// Counts from the per-month, per-day or per-hour roll-ups (`from`/`to` aligned to them,
/// or open).
async fn counts_rolled_up<C: GenericClient>(
    c: &C,
    q: &ScoreQuery,
    unit: Unit,
) -> Result<SurveyCounts> {
    let kind = q.kind.as_str();
    let b = rollup_bucket_sql(q.group_by, unit);
    let (col, _) = unit.names();
    let (table, sent_table) = rollup_tables(q.group_by, unit);
    let dim = q.group_by.dim();
    // Hours as numbers, days and months as dates.
    let (hf, ht) = (
        q.from.map(|t| t.timestamp().div_euclid(3600)),
        q.to.map(|t| t.timestamp().div_euclid(3600)),
    );
    let (df, dt) = (q.from.map(|t| t.date_naive()), q.to.map(|t| t.date_naive()));
    let (cast, from, to): (
        &str,
        &(dyn tokio_postgres::types::ToSql + Sync),
        &(dyn tokio_postgres::types::ToSql + Sync),
    ) = match unit {
        Unit::Hours => ("bigint", &hf, &ht),
        _ => ("date", &df, &dt),
    };
    let mut ps: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&kind, from, to];
    let dim_where = match &dim {
        Some(d) => {
            ps.push(d);
            " AND dim = $4"
        }
        None => "",
    };
    let sql = format!(
        "SELECT {b} AS bucket, NULLIF(scale, 0) AS sc, score, SUM(n)::bigint FROM {table} \
         WHERE kind = $1{dim_where} AND ($2::{cast} IS NULL OR {col} >= $2) AND ($3::{cast} IS NULL OR {col} < $3) \
         GROUP BY 1, 2, 3 HAVING SUM(n) <> 0 ORDER BY 1, 2, 3"
    );
    let answers = query(c, &sql, &ps).await?.iter().map(score_count).collect();
    let sql = format!(
        "SELECT {b} AS bucket, SUM(sent)::bigint, SUM(answered)::bigint FROM {sent_table} \
         WHERE kind = $1{dim_where} AND ($2::{cast} IS NULL OR {col} >= $2) AND ($3::{cast} IS NULL OR {col} < $3) \
         GROUP BY 1 HAVING SUM(sent) <> 0 ORDER BY 1"
    );
    let sent = query(c, &sql, &ps).await?.iter().map(sent_count).collect();
    Ok(SurveyCounts { answers, sent })
}

/// Counts from every answer and invitation (any `from`/`to`).
async fn counts_by_row<C: GenericClient>(c: &C, q: &ScoreQuery) -> Result<SurveyCounts> {
    let from = q.from.map(us);
    let to = q.to.map(us);
    let kind = q.kind.as_str();
    let dim = q.group_by.dim();
    let mut ps: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&kind, &from, &to];
    if let Some(d) = &dim {
        ps.push(d);
    }
    let join = dims_join(q.group_by);
    let sql = format!(
        "SELECT bucket, scale, score, COUNT(*) FROM ( \
           SELECT {b} AS bucket, s.scale AS scale, r.score AS score FROM survey_responses r \
           JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id {join} \
           WHERE i.kind = $1 AND ($2::timestamptz IS NULL OR r.created_at >= $2) AND ($3::timestamptz IS NULL OR r.created_at < $3) \
           UNION ALL \
           SELECT {kb} AS bucket, k.scale AS scale, k.score AS score FROM survey_kiosk_answers k \
           WHERE k.kind = $1 AND ($2::timestamptz IS NULL OR k.created_at >= $2) AND ($3::timestamptz IS NULL OR k.created_at < $3)) a \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        b = bucket_sql(q.group_by, "r.created_at"),
        kb = kiosk_bucket_sql(q.group_by),
    );
    let answers = query(c, &sql, &ps).await?.iter().map(score_count).collect();
    let sql = format!(
        "SELECT {b} AS bucket, COUNT(*), COUNT(*) FILTER (WHERE i.responded) FROM survey_invitations i {join} \
         WHERE i.kind = $1 AND ($2::timestamptz IS NULL OR i.sent_at >= $2) AND ($3::timestamptz IS NULL OR i.sent_at < $3) GROUP BY 1 ORDER BY 1",
        b = bucket_sql(q.group_by, "i.sent_at")
    );
    let sent = query(c, &sql, &ps).await?.iter().map(sent_count).collect();
    Ok(SurveyCounts { answers, sent })
}

const KIOSK_COLS: &str =
    "id, survey_id, name, group_id, created_at, revoked_at, token_hash, embed_origins";

fn kiosk_row(r: &Row) -> SurveyKiosk {
    SurveyKiosk {
        id: r.get(0),
        survey_id: r.get(1),
        name: r.get(2),
        group_id: r.get(3),
        created_at: r.get(4),
        revoked_at: r.get(5),
        token_hash: r.get(6),
        embed_origins: serde_json::from_value(r.get(7)).unwrap_or_default(),
    }
}

async fn load_kiosk<C: GenericClient>(c: &C, id: i64, lock: bool) -> Result<Option<SurveyKiosk>> {
    let sql = format!(
        "SELECT {KIOSK_COLS} FROM survey_kiosks WHERE id = $1{}",
        if lock { " FOR SHARE" } else { "" }
    );
    Ok(query_opt(c, &sql, &[&id]).await?.as_ref().map(kiosk_row))
}

pub(crate) async fn create_survey(
    s: &PgStore,
    new: NewSurvey,
    actor: Actor,
    now: Now,
) -> Result<Survey> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let question = to_json(&new.question)?;
    let follow_up = to_json(&new.follow_up)?;
    let rules = to_json(&new.rules)?;
    let questions = to_json(&new.questions)?;
    let scale = new.scale.map(i16::from);
    let row = query_opt(
        &tx,
        &format!(
            "INSERT INTO surveys (name, kind, scale, question, follow_up, delay_hours, throttle_days, sample_rate, expires_days, active, created_at, rules, questions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING {SURVEY_COLS}"
        ),
        &[
            &new.name,
            &new.kind.as_str(),
            &scale,
            &question,
            &follow_up,
            &new.delay_hours,
            &new.throttle_days,
            &new.sample_rate,
            &new.expires_days,
            &new.active,
            &now,
            &rules,
            &questions,
        ],
    )
    .await?
    .ok_or_else(|| StoreError::Backend("insert returned nothing".into()))?;
    let survey = survey_row(&row)?;
    // Solves from now on are surveyed, not the history.
    execute(
        &tx,
        "INSERT INTO survey_scan (id, last_seq) VALUES (1, (SELECT COALESCE(MAX(seq), 0) FROM events)) ON CONFLICT (id) DO NOTHING",
        &[],
    )
    .await?;
    audit(
        &tx,
        actor,
        "survey.created",
        format!("survey:{}", survey.id),
        serde_json::json!({ "name": survey.name, "kind": survey.kind.as_str() }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(survey)
}

pub(crate) async fn list_surveys(s: &PgStore) -> Result<Vec<Survey>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {SURVEY_COLS} FROM surveys ORDER BY id"),
        &[],
    )
    .await?
    .iter()
    .map(survey_row)
    .collect()
}

pub(crate) async fn get_survey(s: &PgStore, id: i64) -> Result<Survey> {
    let c = s.conn().await?;
    load_survey(&c, id).await
}

pub(crate) async fn survey_scan_cursor(s: &PgStore) -> Result<Option<i64>> {
    let c = s.conn().await?;
    Ok(query_opt(
        &c,
        "SELECT last_seq FROM survey_scan WHERE id = 1 AND EXISTS (SELECT 1 FROM surveys WHERE active)",
        &[],
    )
    .await?
    .map(|r| r.get(0)))
}

pub(crate) async fn advance_survey_scan(
    s: &PgStore,
    from: i64,
    to: i64,
    sends: Vec<ScheduledSend>,
) -> Result<bool> {
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let moved = execute(
        &tx,
        "UPDATE survey_scan SET last_seq = $2 WHERE id = 1 AND last_seq = $1",
        &[&from, &to],
    )
    .await?;
    if moved == 0 {
        return Ok(false);
    }
    for send in &sends {
        crate::jobs::schedule(&tx, &send.key, &send.job).await?;
    }
    tx.commit().await.db()?;
    Ok(true)
}

pub(crate) async fn open_survey_invitation(
    s: &PgStore,
    new: NewInvitation,
    now: Now,
) -> Result<InvitationOpened> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let opened = open_invitation_tx(&tx, new, now).await?;
    tx.commit().await.db()?;
    Ok(opened)
}

pub(crate) async fn survey_invitation_by_token(
    s: &PgStore,
    token_hash: &[u8],
) -> Result<Option<InvitationView>> {
    let c = s.conn().await?;
    view_by_token(&c, token_hash, false).await
}

pub(crate) async fn record_survey_response(
    s: &PgStore,
    key: InvitationKey,
    answer: SurveyAnswer,
    follow_up: Option<FollowUp>,
    now: Now,
) -> Result<Answered> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let answered = respond_tx(&tx, &key, answer, follow_up, now).await?;
    tx.commit().await.db()?;
    Ok(answered)
}

pub(crate) async fn survey_counts(s: &PgStore, q: ScoreQuery) -> Result<SurveyCounts> {
    let c = s.conn().await?;
    let mut parts = Vec::new();
    for p in count_pieces(q.from, q.to) {
        let q = ScoreQuery {
            from: p.from,
            to: p.to,
            ..q.clone()
        };
        parts.push(match p.source {
            CountSource::Months => counts_rolled_up(&c, &q, Unit::Months).await?,
            CountSource::Days => counts_rolled_up(&c, &q, Unit::Days).await?,
            CountSource::Hours => counts_rolled_up(&c, &q, Unit::Hours).await?,
            CountSource::Rows => counts_by_row(&c, &q).await?,
        });
    }
    Ok(SurveyCounts::sum(parts))
}

pub(crate) async fn create_survey_kiosk(
    s: &PgStore,
    new: NewKiosk,
    actor: Actor,
    now: Now,
) -> Result<SurveyKiosk> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    load_survey(&tx, new.survey_id).await?;
    let row = query_opt(
        &tx,
        &format!(
            "INSERT INTO survey_kiosks (survey_id, name, group_id, token_hash, created_at, embed_origins) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {KIOSK_COLS}"
        ),
        &[
            &new.survey_id,
            &new.name,
            &new.group_id,
            &new.token_hash,
            &now,
            &to_json(&new.embed_origins)?,
        ],
    )
    .await?
    .ok_or_else(|| StoreError::Backend("insert returned nothing".into()))?;
    let kiosk = kiosk_row(&row);
    audit(
        &tx,
        actor,
        "survey.kiosk_created",
        format!("survey:{}", new.survey_id),
        serde_json::json!({ "kiosk_id": kiosk.id, "name": kiosk.name }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(kiosk)
}

pub(crate) async fn survey_kiosks(s: &PgStore, survey_id: i64) -> Result<Vec<SurveyKiosk>> {
    let c = s.conn().await?;
    Ok(query(
        &c,
        &format!("SELECT {KIOSK_COLS} FROM survey_kiosks WHERE survey_id = $1 ORDER BY id"),
        &[&survey_id],
    )
    .await?
    .iter()
    .map(kiosk_row)
    .collect())
}

pub(crate) async fn revoke_survey_kiosk(
    s: &PgStore,
    survey_id: i64,
    kiosk_id: i64,
    actor: Actor,
    now: Now,
) -> Result<SurveyKiosk> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let row = query_opt(
        &tx,
        &format!(
            "UPDATE survey_kiosks SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE id = $1 AND survey_id = $2 RETURNING {KIOSK_COLS}, (revoked_at = $3)"
        ),
        &[&kiosk_id, &survey_id, &now],
    )
    .await?
    .ok_or(StoreError::NotFound("kiosk"))?;
    let kiosk = kiosk_row(&row);
    // The flag follows the kiosk's columns.
    if row.get::<_, bool>(KIOSK_COLS.split(", ").count()) {
        audit(
            &tx,
            actor,
            "survey.kiosk_revoked",
            format!("survey:{survey_id}"),
            serde_json::json!({ "kiosk_id": kiosk_id }),
            now,
        )
        .await?;
    }
    tx.commit().await.db()?;
    Ok(kiosk)
}

pub(crate) async fn survey_kiosk(s: &PgStore, kiosk_id: i64) -> Result<Option<KioskView>> {
    let c = s.conn().await?;
    let Some(kiosk) = load_kiosk(&c, kiosk_id, false).await? else {
        return Ok(None);
    };
    let survey = load_survey(&c, kiosk.survey_id).await?;
    Ok(Some(KioskView { kiosk, survey }))
}

/// Stores a batch in one transaction. The kiosk row is share-locked, so a revocation waits
/// for (or is seen by) a batch; rows go in ordered by day and score so that two batches
/// updating the same roll-up rows take their locks in the same order.
pub(crate) async fn record_kiosk_answers(
    s: &PgStore,
    kiosk_id: i64,
    answers: Vec<KioskAnswer>,
    now: Now,
) -> Result<KioskBatch> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    let Some(kiosk) = load_kiosk(&tx, kiosk_id, true).await? else {
        return Ok(KioskBatch::Revoked);
    };
    if kiosk.revoked_at.is_some() {
        return Ok(KioskBatch::Revoked);
    }
    let survey = load_survey(&tx, kiosk.survey_id).await?;
    let mut order: Vec<usize> = (0..answers.len()).collect();
    order.sort_by_key(|&i| (answers[i].answered_at.date_naive(), answers[i].score));
    let mut stored = vec![false; answers.len()];
    let scale = survey.scale.map(i16::from);
    let st = tx
        .prepare_cached(
            "INSERT INTO survey_kiosk_answers (kiosk_id, client_id, kind, scale, group_id, score, comment, created_at, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (kiosk_id, client_id) DO NOTHING",
        )
        .await
        .db()?;
    for i in order {
        let a = &answers[i];
        let n = tx
            .execute(
                &st,
                &[
                    &kiosk.id,
                    &a.client_id,
                    &survey.kind.as_str(),
                    &scale,
                    &kiosk.group_id,
                    &i16::from(a.score),
                    &a.comment,
                    &us(a.answered_at),
                    &now,
                ],
            )
            .await
            .db()?;
        stored[i] = n == 1;
    }
    tx.commit().await.db()?;
    Ok(KioskBatch::Stored(stored))
}

// --- orders, reminders, customers at risk ------------------------------------------------

const ORDER_COLS: &str = "id, external_id, customer_id, placed_at, delivered_at, amount_cents, currency, items, created_at, updated_at";

fn order_row(r: &Row) -> Result<Order> {
    Ok(Order {
        id: r.get(0),
        external_id: r.get(1),
        customer_id: r.get(2),
        placed_at: r.get(3),
        delivered_at: r.get(4),
        amount_cents: r.get(5),
        currency: r.get(6),
        items: crate::db::from_json(r.get(7))?,
        created_at: r.get(8),
        updated_at: r.get(9),
    })
}

async fn load_order<C: GenericClient>(
    c: &C,
    where_: &str,
    key: &(dyn tokio_postgres::types::ToSql + Sync),
) -> Result<Option<Order>> {
    query_opt(
        c,
        &format!("SELECT {ORDER_COLS} FROM orders WHERE {where_}"),
        &[key],
    )
    .await?
    .as_ref()
    .map(order_row)
    .transpose()
}

pub(crate) async fn upsert_order(
    s: &PgStore,
    new: NewOrder,
    actor: Actor,
    now: Now,
) -> Result<OrderSaved> {
    let now = us(now);
    let mut c = s.conn().await?;
    let tx = c.transaction().await.db()?;
    // One writer per external id: two reports of the same order queue its events once.
    execute(
        &tx,
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&SURVEY_LOCK_NS, &new.external_id],
    )
    .await?;
    if query_opt(
        &tx,
        "SELECT 1 FROM customers WHERE id = $1",
        &[&new.customer_id],
    )
    .await?
    .is_none()
    {
        return Err(StoreError::NotFound("customer"));
    }
    let old = load_order(&tx, "external_id = $1", &new.external_id).await?;
    let items = to_json(&new.items)?;
    let (placed, delivered) = (us(new.placed_at), new.delivered_at.map(us));
    let id: i64 = match &old {
        Some(o) => {
            execute(
                &tx,
                "UPDATE orders SET customer_id = $2, placed_at = $3, delivered_at = COALESCE($4, delivered_at), amount_cents = $5, currency = $6, items = $7, updated_at = $8 WHERE id = $1",
                &[&o.id, &new.customer_id, &placed, &delivered, &new.amount_cents, &new.currency, &items, &now],
            )
            .await?;
            o.id
        }
        None => query_opt(
            &tx,
            "INSERT INTO orders (external_id, customer_id, placed_at, delivered_at, amount_cents, currency, items, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
            &[&new.external_id, &new.customer_id, &placed, &delivered, &new.amount_cents, &new.currency, &items, &now],
        )
        .await?
        .ok_or_else(|| StoreError::Backend("insert returned nothing".into()))?
        .get(0),
    };
    let order = load_order(&tx, "id = $1", &id)
        .await?
        .ok_or(StoreError::NotFound("order"))?;
    let events = order_events(old.as_ref(), &order);
    for e in &events {
        let (key, job) = order_event_job(&order, e);
        crate::jobs::schedule(&tx, &key, &job).await?;
    }
    audit(
        &tx,
        actor,
        if old.is_none() {
            "order.created"
        } else {
            "order.updated"
        },
        format!("order:{id}"),
        serde_json::json!({ "external_id": order.external_id, "events": events }),
        now,
    )
    .await?;
    tx.commit().await.db()?;
    Ok(OrderSaved {
        order,
        created: old.is_none(),
        events,
    })
}

pub(crate) async fn get_order(s: &PgStore, id: i64) -> Result<Order> {
    let c = s.conn().await?;
    load_order(&c, "id = $1", &id)
        .await?
        .ok_or(StoreError::NotFound("order"))
}

pub(crate) async fn customer_orders(
    s: &PgStore,
    customer_id: i64,
    limit: i64,
) -> Result<Vec<Order>> {
    let c = s.conn().await?;
    query(
        &c,
        &format!("SELECT {ORDER_COLS} FROM orders WHERE customer_id = $1 ORDER BY placed_at DESC, id DESC LIMIT $2"),
        &[&customer_id, &limit],
    )
    .await?
    .iter()
    .map(order_row)
    .collect()
}

pub(crate) async fn survey_invitation(s: &PgStore, id: i64) -> Result<Option<InvitationView>> {
    let c = s.conn().await?;
    view_where(&c, "i.id = $1", &id, false).await
}

pub(crate) async fn remind_survey_invitation(
    s: &PgStore,
    id: i64,
    token_hash: Vec<u8>,
    now: Now,
) -> Result<Option<InvitationView>> {
    let now = us(now);
    let c = s.conn().await?;
    let n = execute(
        &c,
        "UPDATE survey_invitations SET reminder_token_hash = $2, reminded_at = $3 WHERE id = $1 AND NOT responded AND reminded_at IS NULL AND expires_at > $3",
        &[&id, &token_hash, &now],
    )
    .await?;
    if n == 0 {
        return Ok(None);
    }
    view_where(&c, "i.id = $1", &id, false).await
}

pub(crate) async fn survey_responses(
    s: &PgStore,
    of: tend_store::survey::ResponsesOf,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ResponseWithInvitation>> {
    let (col, key) = of.column();
    let c = s.conn().await?;
    let r = RESPONSE_COLS
        .split(", ")
        .map(|c| format!("r.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT {INVITATION_COLS}, {r} FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id \
         WHERE i.{col} = $1 AND r.id < $2 ORDER BY r.id DESC LIMIT $3"
    );
    let n = INVITATION_COLS.split(", ").count();
    Ok(
        query(&c, &sql, &[&key, &before.unwrap_or(i64::MAX), &limit])
            .await?
            .iter()
            .map(|row| ResponseWithInvitation {
                invitation: invitation_row(row),
                response: response_row_at(row, n),
            })
            .collect(),
    )
}

pub(crate) async fn relationship_candidates(
    s: &PgStore,
    since: Now,
    after_id: i64,
    limit: i64,
) -> Result<Vec<i64>> {
    let c = s.conn().await?;
    let sql = RELATIONSHIP_SQL
        .replace("?1", "$1")
        .replace("?2", "$2")
        .replace("?3", "$3");
    Ok(query(&c, &sql, &[&after_id, &us(since), &limit])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub(crate) async fn customer_open_invitations(
    s: &PgStore,
    customer_id: i64,
    now: Now,
) -> Result<Vec<InvitationView>> {
    let c = s.conn().await?;
    let ids: Vec<i64> = query(
        &c,
        "SELECT id FROM survey_invitations WHERE customer_id = $1 AND NOT responded AND expires_at > $2 ORDER BY sent_at DESC, id DESC LIMIT 20",
        &[&customer_id, &us(now)],
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut out = Vec::new();
    for id in ids {
        out.extend(view_where(&c, "i.id = $1", &id, false).await?);
    }
    Ok(out)
}

pub(crate) async fn survey_at_risk(
    s: &PgStore,
    since: Now,
    limit: i64,
) -> Result<Vec<AtRiskCustomer>> {
    let c = s.conn().await?;
    let sql = format!(
        "WITH low AS ( \
           SELECT i.customer_id AS cid, COUNT(*) AS n, MAX(r.created_at) AS last FROM survey_responses r \
           JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id \
           WHERE r.created_at >= $1 AND {LOW_ANSWER_SQL} GROUP BY i.customer_id), \
         open AS ( \
           SELECT t.requester_id AS cid, COUNT(DISTINCT t.id) AS n FROM ticket_tags g JOIN tickets t ON t.id = g.ticket_id \
           WHERE g.tag IN ('survey-follow-up', 'complaint') AND t.status NOT IN ('solved', 'closed') GROUP BY t.requester_id), \
         who AS (SELECT cid FROM low UNION SELECT cid FROM open) \
         SELECT c.id, c.name, (SELECT value FROM customer_identities WHERE customer_id = c.id AND kind = 'email' ORDER BY id LIMIT 1), \
                COALESCE(low.n, 0), low.last, COALESCE(open.n, 0), \
                (SELECT i.kind || ':' || r.score FROM survey_responses r JOIN survey_invitations i ON i.id = r.invitation_id JOIN surveys s ON s.id = i.survey_id \
                 WHERE i.customer_id = c.id AND r.created_at >= $1 AND {LOW_ANSWER_SQL} ORDER BY r.created_at DESC LIMIT 1) \
         FROM who JOIN customers c ON c.id = who.cid LEFT JOIN low ON low.cid = c.id LEFT JOIN open ON open.cid = c.id \
         ORDER BY COALESCE(open.n, 0) + COALESCE(low.n, 0) DESC, low.last DESC NULLS LAST, c.id LIMIT $2"
    );
    Ok(query(&c, &sql, &[&us(since), &limit])
        .await?
        .iter()
        .map(|r| {
            let last: Option<String> = r.get(6);
            let (kind, score) = parse_last(last.as_deref());
            AtRiskCustomer {
                customer_id: r.get(0),
                name: r.get(1),
                email: r.get(2),
                low_answers: r.get::<_, i64>(3) as u64,
                last_low_at: r.get(4),
                open_complaints: r.get::<_, i64>(5) as u64,
                last_kind: kind,
                last_score: score,
            }
        })
        .collect())
}
