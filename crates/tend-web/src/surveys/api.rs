//! /api/v1/surveys: define surveys (admin) and read their scores. Scores are computed on read
//! from the stored answer counts by the pure math in `tend_core::survey`.

use crate::error::{ApiResult, AppError};
use crate::extract::{require_admin, require_supervisor, Auth, Json};
use crate::extract::{Id, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tend_core::survey::{
    nps_category, response_rate_pct, CesCounts, Csat, CsatCounts, CsatScale, Nps, NpsCategory,
    NpsCounts,
};
use tend_core::Actor;
use tend_store::survey::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyIn {
    name: String,
    kind: SurveyKind,
    /// CSAT only: 5 (default), 3 or 2.
    scale: Option<u8>,
    /// Language tag → question; at least one.
    question: BTreeMap<String, String>,
    #[serde(default)]
    follow_up: BTreeMap<String, String>,
    #[serde(default = "default_delay")]
    delay_hours: i64,
    #[serde(default = "default_throttle")]
    throttle_days: i64,
    #[serde(default = "one")]
    sample_rate: f64,
    #[serde(default = "default_expiry")]
    expires_days: i64,
    #[serde(default = "yes")]
    active: bool,
    /// Trigger, quiet hours, reminder, promoters, incentive (all optional).
    #[serde(default)]
    rules: SurveyRules,
    /// Follow-up questions after the score and comment (at most 10).
    #[serde(default)]
    questions: Vec<Question>,
}

fn default_delay() -> i64 {
    24
}
fn default_throttle() -> i64 {
    30
}
fn one() -> f64 {
    1.0
}
fn default_expiry() -> i64 {
    14
}
fn yes() -> bool {
    true
}

fn texts(
    field: &str,
    m: BTreeMap<String, String>,
    required: bool,
) -> Result<BTreeMap<String, String>, AppError> {
    if required && m.is_empty() {
        return Err(AppError::invalid(
            field,
            "give the text in at least one language, e.g. {\"en\": \"…\"}",
        ));
    }
    let mut out = BTreeMap::new();
    for (lang, text) in m {
        let ok_tag = !lang.is_empty()
            && lang.len() <= 35
            && lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok_tag {
            return Err(AppError::invalid(
                field,
                format!("'{lang}' is not a language tag (BCP 47, e.g. en, de-AT)"),
            ));
        }
        let text = text.trim().to_string();
        if text.is_empty() || text.chars().count() > 500 {
            return Err(AppError::invalid(
                format!("{field}.{lang}"),
                "must be 1 to 500 characters",
            ));
        }
        out.insert(lang, text);
    }
    Ok(out)
}

fn range(field: &str, v: i64, lo: i64, hi: i64) -> Result<i64, AppError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(AppError::invalid(
            field,
            format!("must be between {lo} and {hi}"),
        ))
    }
}

pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<SurveyIn>,
) -> ApiResult<(StatusCode, axum::Json<Survey>)> {
    require_admin(&v)?;
    let name = tend_core::parse_line("name", &b.name, tend_core::limits::NAME_MAX)?;
    let scale = match (b.kind, b.scale) {
        (SurveyKind::Csat, None) => Some(5),
        (SurveyKind::Csat, Some(n @ (2 | 3 | 5))) => Some(n),
        (SurveyKind::Csat, Some(_)) => {
            return Err(AppError::invalid("scale", "must be 5, 3 or 2"));
        }
        (_, Some(_)) => {
            return Err(AppError::invalid(
                "scale",
                "only CSAT surveys have a scale (NPS is 0–10, CES 1–7)",
            ));
        }
        (_, None) => None,
    };
    let expires_days = range("expires_days", b.expires_days, 1, 365)?;
    b.rules
        .check(expires_days)
        .map_err(|e| AppError::invalid(e.field, e.message))?;
    tend_core::survey_form::check_questions(&b.questions)
        .map_err(|e| AppError::invalid(e.field, e.message))?;
    if !(0.0..=1.0).contains(&b.sample_rate) {
        return Err(AppError::invalid("sample_rate", "must be between 0 and 1"));
    }
    let new = NewSurvey {
        name,
        kind: b.kind,
        scale,
        question: texts("question", b.question, true)?,
        follow_up: texts("follow_up", b.follow_up, false)?,
        delay_hours: range("delay_hours", b.delay_hours, 0, 24 * 90)?,
        throttle_days: range("throttle_days", b.throttle_days, 0, 3650)?,
        sample_rate: b.sample_rate,
        expires_days,
        active: b.active,
        rules: b.rules,
        questions: b.questions,
    };
    let survey = s
        .store
        .create_survey(new, Actor::agent(v.agent_id), s.now())
        .await?;
    if let Some((key, job)) = crate::surveys::first_round(&survey) {
        s.store.schedule_job(&key, job).await?;
    }
    Ok((StatusCode::CREATED, axum::Json(survey)))
}

pub async fn list(State(s): State<AppState>, Auth(v): Auth) -> ApiResult<axum::Json<Value>> {
    require_admin(&v)?;
    Ok(axum::Json(
        json!({ "items": s.store.list_surveys().await? }),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ScoresParams {
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
    /// Short for `group_by`.
    by: Option<String>,
}

/// The split a `group_by` (or `by`) parameter asks for; 400 for anything else.
fn score_group(group_by: Option<&str>, by: Option<&str>) -> Result<ScoreGroup, AppError> {
    let (field, v) = match (
        group_by.filter(|s| !s.is_empty()),
        by.filter(|s| !s.is_empty()),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(AppError::BadRequest(
                "group_by and by differ: give one of them".into(),
            ))
        }
        (Some(a), _) => ("group_by", a),
        (None, Some(b)) => ("by", b),
        (None, None) => return Ok(ScoreGroup::All),
    };
    ScoreGroup::parse(v).ok_or_else(|| {
        let shown: String = v.chars().take(40).collect();
        AppError::BadRequest(format!(
            "{field} '{shown}' is not one of: all, month, group, agent, channel, brand, tag, product"
        ))
    })
}

fn time_param(field: &str, v: Option<&str>) -> Result<Option<DateTime<Utc>>, AppError> {
    v.filter(|s| !s.is_empty())
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    AppError::BadRequest(format!(
                        "{field} must be an RFC 3339 time, e.g. 2026-03-01T00:00:00Z"
                    ))
                })
        })
        .transpose()
}

/// The scores of one bucket.
#[derive(Debug, Default, Serialize)]
pub struct Bucket {
    /// Month (`YYYY-MM`), group, agent or brand id, channel, tag or product; `null` for "all"
    /// and for "none".
    pub key: Option<String>,
    pub responses: u64,
    pub sent: u64,
    pub response_rate_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<Nps>,
    /// One summary per scale in use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub csat: Vec<Csat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ces: Option<tend_core::survey::Ces>,
}

#[derive(Default)]
struct Acc {
    nps: NpsCounts,
    csat: BTreeMap<u8, CsatCounts>,
    ces: CesCounts,
    sent: u64,
    answered: u64,
}

fn csat_scale(n: u8) -> CsatScale {
    match n {
        2 => CsatScale::TwoPoint,
        3 => CsatScale::ThreePoint,
        _ => CsatScale::FivePoint,
    }
}

impl Acc {
    fn add(&mut self, kind: SurveyKind, c: &ScoreCount) -> Result<(), AppError> {
        let bad = |e: tend_core::Invalid| AppError::Internal(format!("stored score: {e}"));
        match kind {
            SurveyKind::Nps => match nps_category(c.score).map_err(bad)? {
                NpsCategory::Detractor => self.nps.detractors += c.count,
                NpsCategory::Passive => self.nps.passives += c.count,
                NpsCategory::Promoter => self.nps.promoters += c.count,
            },
            SurveyKind::Csat => {
                let scale = c.scale.unwrap_or(5);
                let sc = csat_scale(scale);
                sc.check(c.score).map_err(bad)?;
                let e = self
                    .csat
                    .entry(scale)
                    .or_insert_with(|| CsatCounts::new(sc));
                e.counts[usize::from(c.score - 1)] += c.count;
            }
            SurveyKind::Ces => {
                if !(1..=7).contains(&c.score) {
                    return Err(AppError::Internal(format!("stored CES score {}", c.score)));
                }
                self.ces.counts[usize::from(c.score - 1)] += c.count;
            }
        }
        Ok(())
    }

    fn bucket(&self, kind: SurveyKind, key: Option<String>) -> Bucket {
        let responses = match kind {
            SurveyKind::Nps => self.nps.n(),
            SurveyKind::Csat => self.csat.values().map(|c| c.n()).sum(),
            SurveyKind::Ces => self.ces.n(),
        };
        Bucket {
            key,
            responses,
            sent: self.sent,
            response_rate_pct: response_rate_pct(self.answered, self.sent).ok().flatten(),
            nps: (kind == SurveyKind::Nps)
                .then(|| self.nps.summary())
                .flatten(),
            csat: self.csat.values().filter_map(|c| c.summary()).collect(),
            ces: (kind == SurveyKind::Ces)
                .then(|| self.ces.summary())
                .flatten(),
        }
    }
}

/// `GET /surveys/scores?kind=nps&from=&to=&group_by=month|group|agent|channel|brand|tag|product`
/// (`by=` for short). Kiosk answers count with the channel `kiosk` and under "none" for
/// agent, brand, tag and product. Brand, tags and products are those of the ticket (order)
/// when the survey was sent; an answer counts once under each of its tags and products. Any
/// range is read from the roll-ups (`count_pieces`): answers are counted row by row only in
/// the partial hours at its edges.
pub async fn scores(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<ScoresParams>,
) -> ApiResult<axum::Json<Value>> {
    require_supervisor(&v)?;
    let kind = match p.kind.as_deref() {
        None | Some("") => SurveyKind::Nps,
        Some(k) => SurveyKind::parse(k).ok_or_else(|| {
            AppError::BadRequest(format!("kind '{k}' is not one of: nps, csat, ces"))
        })?,
    };
    let group_by = score_group(p.group_by.as_deref(), p.by.as_deref())?;
    let from = time_param("from", p.from.as_deref())?;
    let to = time_param("to", p.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(AppError::BadRequest("from must be before to".into()));
        }
    }
    let counts = s
        .store
        .survey_counts(ScoreQuery {
            kind,
            from,
            to,
            group_by,
        })
        .await?;
    let mut buckets: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    for c in &counts.answers {
        buckets.entry(c.bucket.clone()).or_default().add(kind, c)?;
    }
    for c in &counts.sent {
        let b = buckets.entry(c.bucket.clone()).or_default();
        b.sent += c.sent;
        b.answered += c.answered;
    }
    // An answer counts once under each of its tags (products): the total is counted apart.
    let total = if group_by.dim().is_some() && group_by != ScoreGroup::Brand {
        period_totals_open(&s, kind, from, to).await?
    } else {
        let mut total = Acc::default();
        for c in &counts.answers {
            total.add(kind, c)?;
        }
        for c in &counts.sent {
            total.sent += c.sent;
            total.answered += c.answered;
        }
        total
    };
    let items: Vec<Bucket> = buckets
        .iter()
        .map(|(k, a)| a.bucket(kind, k.clone()))
        .collect();
    Ok(axum::Json(json!({
        "kind": kind,
        "from": from,
        "to": to,
        "group_by": group_by,
        "total": total.bucket(kind, None),
        "buckets": items,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    /// One customer, or up to [`SEND_MAX`] (e.g. a relationship NPS round).
    customer_id: Option<i64>,
    #[serde(default)]
    customer_ids: Vec<i64>,
    /// The ticket the survey is about (one customer only).
    ticket_id: Option<i64>,
}

/// Most customers one send request may name.
pub const SEND_MAX: usize = 1000;

/// `POST /surveys/{id}/send`: survey customers by hand (relationship NPS, after a call). One
/// keyed send job per customer, run at once; throttling, sampling, quiet hours and the
/// customer's e-mail are checked when it runs, as for automatic sends.
pub async fn send_now(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<SendIn>,
) -> ApiResult<(StatusCode, axum::Json<Value>)> {
    require_admin(&v)?;
    let survey = s.store.get_survey(id).await?;
    if !survey.active {
        return Err(AppError::Conflict(
            "the survey is inactive; activate it before sending".into(),
        ));
    }
    let mut ids = b.customer_ids;
    ids.extend(b.customer_id);
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > SEND_MAX {
        return Err(AppError::invalid(
            "customer_ids",
            format!("name 1 to {SEND_MAX} customers (customer_id or customer_ids)"),
        ));
    }
    if b.ticket_id.is_some() && ids.len() != 1 {
        return Err(AppError::invalid(
            "ticket_id",
            "a ticket can only be given with one customer",
        ));
    }
    for c in &ids {
        s.store
            .get_customer(*c)
            .await
            .map_err(|_| AppError::invalid("customer_ids", format!("there is no customer {c}")))?;
    }
    if let Some(t) = b.ticket_id {
        s.store.get_ticket(t, &v).await?;
    }
    let now = s.now();
    for c in &ids {
        s.store
            .schedule_job(
                &format!("survey:{id}:manual:{c}:{}", now.timestamp_micros()),
                tend_store::NewJob {
                    kind: SURVEY_SEND_JOB.into(),
                    payload: json!({ "survey_id": id, "customer_id": c, "ticket_id": b.ticket_id,
                                     "requested_at": now.timestamp_micros() }),
                    run_at: now,
                    max_attempts: 10,
                },
            )
            .await?;
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "queued": ids.len(), "survey_id": id })),
    ))
}

#[derive(Debug, Deserialize)]
pub struct AtRiskParams {
    days: Option<i64>,
    limit: Option<i64>,
}

/// `GET /surveys/at-risk?days=90&limit=100`: customers with low answers in the last `days`
/// (detractors, CSAT ≤ 2, CES ≤ 3) or open follow-up/complaint tickets, most at risk first.
pub async fn at_risk(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<AtRiskParams>,
) -> ApiResult<axum::Json<Value>> {
    require_supervisor(&v)?;
    let days = range("days", p.days.unwrap_or(90), 1, 3650)?;
    let limit = range("limit", p.limit.unwrap_or(100), 1, 1000)?;
    let since = s.now() - chrono::Duration::days(days);
    let items = s.store.survey_at_risk(since, limit).await?;
    Ok(axum::Json(json!({ "since": since, "items": items })))
}

#[derive(Debug, Deserialize)]
pub struct ResponsesParams {
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /surveys/{id}/responses?before=&limit=`: the answers with comments and follow-up
/// answers, newest first, with the ticket/customer/agent/group/channel/order they belong to.
/// `next_before` pages on.
pub async fn responses(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Query(p): Query<ResponsesParams>,
) -> ApiResult<axum::Json<Value>> {
    require_supervisor(&v)?;
    s.store.get_survey(id).await?;
    let limit = range("limit", p.limit.unwrap_or(50), 1, 200)?;
    if p.before.is_some_and(|b| b < 1) {
        return Err(AppError::invalid("before", "must be a response id (≥ 1)"));
    }
    let items = s
        .store
        .survey_responses(tend_store::survey::ResponsesOf::Survey(id), p.before, limit)
        .await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|r| r.response.id))
        .flatten();
    Ok(axum::Json(json!({ "items": items, "next_before": next })))
}

#[derive(Debug, Deserialize)]
pub struct CompareParams {
    kind: Option<String>,
    before_from: Option<String>,
    before_to: Option<String>,
    after_from: Option<String>,
    after_to: Option<String>,
    /// Significance level; default 0.05.
    alpha: Option<f64>,
}

async fn period_totals(
    s: &AppState,
    kind: SurveyKind,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Acc, AppError> {
    period_totals_open(s, kind, Some(from), Some(to)).await
}

/// The totals of a range (each answer once).
async fn period_totals_open(
    s: &AppState,
    kind: SurveyKind,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Acc, AppError> {
    let counts = s
        .store
        .survey_counts(ScoreQuery {
            kind,
            from,
            to,
            group_by: ScoreGroup::All,
        })
        .await?;
    let mut acc = Acc::default();
    for c in &counts.answers {
        acc.add(kind, c)?;
    }
    for c in &counts.sent {
        acc.sent += c.sent;
        acc.answered += c.answered;
    }
    Ok(acc)
}

/// `GET /surveys/scores/compare?kind=&before_from=&before_to=&after_from=&after_to=&alpha=`:
/// the score of two periods and whether the change is significant (NPS: z-test on the
/// difference with both standard errors; CSAT % satisfied and CES % agree: two-proportion
/// z-test; `tend_core::survey::compare_*`). A period without answers, or with no variation,
/// gives `comparison: null` and the reason.
pub async fn compare(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<CompareParams>,
) -> ApiResult<axum::Json<Value>> {
    require_supervisor(&v)?;
    let kind = match p.kind.as_deref() {
        None | Some("") => SurveyKind::Nps,
        Some(k) => SurveyKind::parse(k).ok_or_else(|| {
            AppError::BadRequest(format!("kind '{k}' is not one of: nps, csat, ces"))
        })?,
    };
    let need = |field: &str, v: Option<&str>| -> Result<DateTime<Utc>, AppError> {
        time_param(field, v)?.ok_or_else(|| {
            AppError::BadRequest(format!(
                "{field} is required (RFC 3339, e.g. 2026-03-01T00:00:00Z)"
            ))
        })
    };
    let (bf, bt) = (
        need("before_from", p.before_from.as_deref())?,
        need("before_to", p.before_to.as_deref())?,
    );
    let (af, at) = (
        need("after_from", p.after_from.as_deref())?,
        need("after_to", p.after_to.as_deref())?,
    );
    if bf >= bt || af >= at {
        return Err(AppError::BadRequest(
            "each period's from must be before its to".into(),
        ));
    }
    let alpha = p.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(AppError::invalid(
            "alpha",
            "must be between 0 and 0.5, e.g. 0.05",
        ));
    }
    let before = period_totals(&s, kind, bf, bt).await?;
    let after = period_totals(&s, kind, af, at).await?;
    let result = match kind {
        SurveyKind::Nps => tend_core::survey::compare_nps(&before.nps, &after.nps),
        SurveyKind::Ces => tend_core::survey::compare_ces_agree(&before.ces, &after.ces),
        SurveyKind::Csat => {
            // One scale per survey; compare the scale both periods used most.
            let scale = before
                .csat
                .keys()
                .find(|k| after.csat.contains_key(k))
                .copied();
            match scale {
                Some(k) => tend_core::survey::compare_csat(&before.csat[&k], &after.csat[&k]),
                None => tend_core::survey::compare_proportions(0, 0, 0, 0),
            }
        }
    };
    let (comparison, reason) = match result {
        Ok(c) => (
            json!({ "before": c.before, "after": c.after, "delta": c.delta,
                    "standard_error": c.standard_error, "z": c.z, "p_value": c.p_value,
                    "significant": c.is_significant(alpha) }),
            Value::Null,
        ),
        Err(e) => (Value::Null, json!(e.to_string())),
    };
    Ok(axum::Json(json!({
        "kind": kind,
        "measure": match kind { SurveyKind::Nps => "nps", SurveyKind::Csat => "csat_pct", SurveyKind::Ces => "ces_agree_pct" },
        "alpha": alpha,
        "before": before.bucket(kind, Some("before".into())),
        "after": after.bucket(kind, Some("after".into())),
        "comparison": comparison,
        "not_comparable": reason,
    })))
}
