//! `GET /api/v1/kb/analytics?from=&to=` — self-service numbers of the knowledge base for whole
//! UTC days `from..=to` (dates, `YYYY-MM-DD`; default the last 30 days), and the auto-reply
//! switch `GET|PUT /api/v1/kb/auto-reply` (admins change it).
//!
//! Who: every agent (every agent has knowledge-base rights in Tend, docs/kb.md); no token is
//! 401. The numbers are read from daily roll-ups and indexed day columns, never by scanning
//! raw events; each one is defined in docs/kb.md and in the answer's `definitions`.

use crate::error::{ApiResult, AppError};
use crate::extract::{Auth, Json, Query};
use crate::AppState;
use axum::extract::State;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tend_core::kb_analytics::{date_of_day, day_of_date, rate, self_service_ratio};
use tend_core::Actor;
use tend_store::kb_analytics::*;

/// Longest range served, in days.
pub const RANGE_MAX_DAYS: i64 = 366;
/// Content gaps and top articles listed.
pub const TOP: i64 = 20;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RangeParams {
    pub from: Option<String>,
    pub to: Option<String>,
}

fn date(field: &str, raw: &str) -> Result<NaiveDate, AppError> {
    let d = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::invalid(
            field,
            format!(
                "'{}' is not a date; use YYYY-MM-DD, e.g. 2026-11-01",
                tend_core::truncate_for_message(raw)
            ),
        )
    })?;
    // Analytics start in 1970 at the earliest; the far future has none either. Keeping the
    // years sane also keeps the date arithmetic below from overflowing.
    if !(1970..=9999).contains(&chrono::Datelike::year(&d)) {
        return Err(AppError::invalid(
            field,
            "must be a date between 1970-01-01 and 9999-12-31",
        ));
    }
    Ok(d)
}

/// The days asked for: `to` defaults to today (UTC), `from` to 29 days before `to`.
pub fn range(s: &AppState, p: &RangeParams) -> Result<(NaiveDate, NaiveDate), AppError> {
    let today = s.now().date_naive();
    let to = match p.to.as_deref().filter(|x| !x.trim().is_empty()) {
        Some(t) => date("to", t)?,
        None => today,
    };
    let from = match p.from.as_deref().filter(|x| !x.trim().is_empty()) {
        Some(f) => date("from", f)?,
        None => to - Duration::days(29),
    };
    if from > to {
        return Err(AppError::invalid("from", "must be on or before 'to'"));
    }
    if (to - from).num_days() + 1 > RANGE_MAX_DAYS {
        return Err(AppError::invalid(
            "from",
            format!("the range may cover at most {RANGE_MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

#[derive(Debug, Clone, Serialize)]
pub struct TopArticle {
    pub id: i64,
    pub title: String,
    pub views: i64,
    pub clicks: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub helpful_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Day {
    pub date: String,
    pub searches: i64,
    pub zero_result_searches: i64,
    pub article_views: i64,
    pub tickets: i64,
    pub deflected: i64,
}

/// The report (the API's JSON and the page's numbers).
#[derive(Debug, Clone, Serialize)]
pub struct KbReport {
    pub from: String,
    pub to: String,
    pub searches: i64,
    pub help_center_searches: i64,
    pub suggestion_searches: i64,
    pub zero_result_searches: i64,
    pub searches_with_results: i64,
    pub clicks: i64,
    pub click_through_rate: Option<f64>,
    pub article_views: i64,
    pub helpful_yes: i64,
    pub helpful_no: i64,
    pub helpful_rate: Option<f64>,
    pub tickets: i64,
    pub tickets_after_article_view: i64,
    pub sessions: SessionNumbers,
    pub auto_replies_sent: i64,
    pub auto_reply_solved: i64,
    pub deflected: i64,
    pub self_service_ratio: Option<f64>,
    pub content_gaps: Vec<ContentGap>,
    pub top_articles: Vec<TopArticle>,
    pub daily: Vec<Day>,
    pub definitions: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct SessionNumbers {
    pub shown: i64,
    pub clicked: i64,
    pub submitted: i64,
    pub deflected: i64,
    pub abandoned: i64,
    pub open: i64,
}

pub fn definitions() -> Value {
    json!({
        "searches": "help-center search pages with a query, plus deflection sessions that were shown suggestions (one per session, its last text)",
        "zero_result_searches": "searches that found nothing (help center: the page listed no article; suggestions: the session's last text found none)",
        "click_through_rate": "(help-center search results opened + sessions in which a suggested article was opened) / searches with results",
        "article_views": "help-center article pages shown",
        "helpful_rate": "'yes' answers / all answers to 'was this helpful?' given in the range",
        "tickets": "tickets customers opened through the contact form or by mail",
        "tickets_after_article_view": "contact-form tickets sent from a session in which a suggested article was opened",
        "deflected": "sessions in which a suggested article was opened, no ticket was sent and nothing happened for 30 minutes, plus tickets closed by the auto-reply's 'this solved my problem' link",
        "self_service_ratio": "deflected / (deflected + tickets), tickets closed by the auto-reply link counted once (as deflected)",
        "content_gaps": "zero-result searches grouped by their normalised text (lower-case, punctuation removed, at most 100 characters), most frequent first",
        "days": "whole UTC days; sessions, searches and tickets count on the day they started"
    })
}

/// Builds the report from the store's counts; titles of the top articles come from the store.
pub async fn report(s: &AppState, from: NaiveDate, to: NaiveDate) -> Result<KbReport, AppError> {
    let data = s
        .store
        .kb_analytics(KbAnalyticsQuery {
            from_day: day_of_date(from),
            to_day: day_of_date(to),
            now: s.now(),
            top: TOP,
        })
        .await?;
    let mut total = KbDayCounts::default();
    for (_, d) in &data.days {
        total.add(d);
    }
    let mut daily = Vec::new();
    let by_day: std::collections::HashMap<i64, KbDayCounts> = data.days.iter().copied().collect();
    for day in day_of_date(from)..=day_of_date(to) {
        let d = by_day.get(&day).copied().unwrap_or_default();
        daily.push(Day {
            date: date_of_day(day).to_string(),
            searches: d.help_searches + d.sessions,
            zero_result_searches: d.help_zero + d.sessions_zero,
            article_views: d.views,
            tickets: d.tickets,
            deflected: d.sessions_deflected + d.auto_reply_solved,
        });
    }
    let searches = total.help_searches + total.sessions;
    let zero = total.help_zero + total.sessions_zero;
    let with_results = searches - zero;
    let clicks = total.help_clicks + total.sessions_clicked;
    let deflected = total.sessions_deflected + total.auto_reply_solved;
    let mut top_articles = Vec::new();
    for a in &data.articles {
        let title = match s.store.kb_get_article(a.article_id).await {
            Ok(full) => full
                .translation(&full.article.source_locale)
                .or(full.translations.first())
                .map(|t| t.head.title.clone())
                .unwrap_or_default(),
            Err(tend_store::StoreError::NotFound(_)) => "(deleted article)".into(),
            Err(e) => return Err(e.into()),
        };
        top_articles.push(TopArticle {
            id: a.article_id,
            title,
            views: a.views,
            clicks: a.clicks,
            helpful_yes: a.helpful_yes,
            helpful_no: a.helpful_no,
            helpful_rate: rate(a.helpful_yes, a.helpful_yes + a.helpful_no),
        });
    }
    let open = total.sessions
        - total.sessions_submitted
        - total.sessions_deflected
        - total.sessions_abandoned;
    Ok(KbReport {
        from: from.to_string(),
        to: to.to_string(),
        searches,
        help_center_searches: total.help_searches,
        suggestion_searches: total.sessions,
        zero_result_searches: zero,
        searches_with_results: with_results,
        clicks,
        click_through_rate: rate(clicks, with_results),
        article_views: total.views,
        helpful_yes: data.helpful_yes,
        helpful_no: data.helpful_no,
        helpful_rate: rate(data.helpful_yes, data.helpful_yes + data.helpful_no),
        tickets: total.tickets,
        tickets_after_article_view: total.sessions_submitted_after_click,
        sessions: SessionNumbers {
            shown: total.sessions,
            clicked: total.sessions_clicked,
            submitted: total.sessions_submitted,
            deflected: total.sessions_deflected,
            abandoned: total.sessions_abandoned,
            open,
        },
        auto_replies_sent: total.auto_replies,
        auto_reply_solved: total.auto_reply_solved,
        deflected,
        self_service_ratio: self_service_ratio(deflected, total.tickets, total.auto_reply_solved),
        content_gaps: data.gaps,
        top_articles,
        daily,
        definitions: definitions(),
    })
}

/// `GET /api/v1/kb/analytics?from=&to=`
pub async fn analytics(
    State(s): State<AppState>,
    Auth(_v): Auth,
    Query(p): Query<RangeParams>,
) -> ApiResult<axum::Json<KbReport>> {
    let (from, to) = range(&s, &p)?;
    Ok(axum::Json(report(&s, from, to).await?))
}

/// `GET /api/v1/kb/auto-reply`: `{"enabled": bool}`.
pub async fn get_auto_reply(
    State(s): State<AppState>,
    Auth(_v): Auth,
) -> ApiResult<axum::Json<Value>> {
    let on = crate::helpcenter::deflect::auto_reply_enabled(&*s.store).await?;
    Ok(axum::Json(json!({ "enabled": on })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoReplyBody {
    enabled: bool,
}

/// `PUT /api/v1/kb/auto-reply` `{"enabled": true}` (admins; audited as a setting change).
pub async fn put_auto_reply(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<AutoReplyBody>,
) -> ApiResult<axum::Json<Value>> {
    crate::extract::require_admin(&v)?;
    s.store
        .put_setting(
            KB_AUTO_REPLY_SETTING,
            json!({ "enabled": b.enabled }),
            Actor::agent(v.agent_id),
            s.now(),
        )
        .await?;
    Ok(axum::Json(json!({ "enabled": b.enabled })))
}
