//! Full-text search: tickets (agents, within what they may open) and help-center articles
//! (anyone for public articles; agents also see internal ones). 503 when search is off.

use super::check_limit;
use crate::error::{ApiResult, AppError};
use crate::extract::{Auth, Query};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use tend_core::{Status, Viewer};
use tend_search::{KbQuery, Search, SearchResults, TicketQuery};

/// Deepest offset served; ranked search is for the first pages.
const MAX_OFFSET: i64 = tend_search::MAX_OFFSET as i64;

fn search_of(s: &AppState) -> Result<Arc<Search>, AppError> {
    s.search.clone().ok_or_else(|| {
        AppError::Unavailable("full-text search is not configured on this server".into())
    })
}

fn check_offset(offset: Option<i64>) -> Result<usize, AppError> {
    let o = offset.unwrap_or(0);
    if !(0..=MAX_OFFSET).contains(&o) {
        return Err(AppError::invalid(
            "offset",
            format!("must be between 0 and {MAX_OFFSET}"),
        ));
    }
    Ok(o as usize)
}

/// Runs a blocking search off the async threads.
async fn run<T: Send + 'static>(
    f: impl FnOnce() -> tend_search::Result<T> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(format!("search task: {e}")))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketParams {
    q: Option<String>,
    /// Comma-separated statuses.
    status: Option<String>,
    customer_id: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `GET /api/v1/search/tickets?q=&status=&customer_id=&limit=&offset=`
pub async fn tickets(
    State(s): State<AppState>,
    Auth(v): Auth,
    Query(p): Query<TicketParams>,
) -> ApiResult<axum::Json<Value>> {
    search_of(&s)?;
    let limit = check_limit(p.limit)?;
    let offset = check_offset(p.offset)?;
    let mut statuses = Vec::new();
    for part in p.status.as_deref().unwrap_or("").split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let st: Status = part
            .parse()
            .map_err(|e: tend_core::Invalid| AppError::invalid("status", e.message))?;
        statuses.push(st.as_str().to_string());
    }
    let q = TicketQuery {
        statuses,
        customer_id: p.customer_id,
        limit: limit as usize,
        offset,
        ..TicketQuery::new(p.q.unwrap_or_default())
    };
    let started = Instant::now();
    let (hits, total) = search_tickets(&s, &v, q).await?;
    let hits: Vec<Value> = hits
        .into_iter()
        .map(|h| {
            json!({
                "id": h.id,
                "subject": h.title,
                "status": h.status,
                "score": h.score,
                "snippet": h.snippet,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "hits": hits,
        "total": total,
        "limit": limit,
        "offset": offset,
        "took_ms": round_ms(started),
    })))
}

/// The index follows the store about a second behind: a ticket that just left an agent's
/// groups may still be indexed under them. Agents' hits are checked against the store
/// (`Viewer::can_see`, the rule for opening a ticket) before they are shown.
pub(crate) async fn visible_ticket_hits(
    s: &AppState,
    v: &Viewer,
    hits: Vec<tend_search::SearchHit>,
) -> Result<Vec<tend_search::SearchHit>, AppError> {
    let checks = hits.iter().map(|h| {
        let store = s.store.clone();
        let (id, v) = (h.id, v.clone());
        async move {
            if v.sees_all() {
                return Ok(true);
            }
            match store.get_ticket(id, &v).await {
                Ok(_) => Ok(true),
                Err(tend_store::StoreError::NotFound(_)) => Ok(false),
                Err(e) => Err(AppError::from(e)),
            }
        }
    });
    let visible = futures::future::join_all(checks).await;
    let mut out = Vec::with_capacity(hits.len());
    for (h, ok) in hits.into_iter().zip(visible) {
        if ok? {
            out.push(h);
        }
    }
    Ok(out)
}

/// Ticket search as the viewer may see it: the index filtered to their groups, then each
/// hit checked against the store. Shared by the API and the workspace's search page.
pub(crate) async fn search_tickets(
    s: &AppState,
    v: &Viewer,
    q: TicketQuery,
) -> Result<(Vec<tend_search::SearchHit>, usize), AppError> {
    let search = search_of(s)?;
    let q = q.visible_to(v);
    let r: SearchResults = run(move || search.tickets().search(&q)).await?;
    let hits = visible_ticket_hits(s, v, r.hits).await?;
    Ok((hits, r.total))
}

fn round_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArticleParams {
    q: Option<String>,
    locale: Option<String>,
    category: Option<i64>,
    section: Option<i64>,
    brand: Option<i64>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// The agent behind an `Authorization` header, if one is sent (a bad token is a 401, not
/// silently anonymous).
async fn optional_agent(s: &AppState, h: &HeaderMap) -> Result<Option<Viewer>, AppError> {
    let Some(raw) = h.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = raw
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AppError::Unauthorized("send an API token as 'Authorization: Bearer <token>'".into())
        })?;
    match s.auth.viewer_for_token(&*s.store, token).await? {
        Some(v) => Ok(Some(v)),
        None => Err(AppError::Unauthorized(
            "the token is unknown or revoked, or its agent is deactivated".into(),
        )),
    }
}

/// `GET /api/v1/search/articles?q=&locale=&category=&section=&brand=&limit=&offset=`:
/// published articles; internal ones only for signed-in agents.
pub async fn articles(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<ArticleParams>,
) -> ApiResult<axum::Json<Value>> {
    let search = search_of(&s)?;
    let agent = optional_agent(&s, &headers).await?;
    let limit = check_limit(p.limit)?;
    let offset = check_offset(p.offset)?;
    let locale = match p.locale.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => {
            let n = tend_search::analysis::normalize_locale(l);
            if n.is_empty() {
                return Err(AppError::invalid(
                    "locale",
                    "must be a language tag such as en, de or de-CH",
                ));
            }
            Some(n)
        }
    };
    let q = KbQuery {
        locale,
        category_id: p.category,
        section_id: p.section,
        brand_id: p.brand,
        public_only: agent.is_none(),
        published_only: true,
        limit: limit as usize,
        offset,
        ..KbQuery::new(p.q.unwrap_or_default())
    };
    let started = Instant::now();
    let r = run(move || search.kb().search(&q)).await?;
    // Only translations live now (the index may lag, and holds scheduled ones early).
    let hits: Vec<Value> = crate::helpcenter::live_hits(&s, r.hits, agent.is_none())
        .await
        .into_iter()
        .map(|h| {
            json!({
                "id": h.id,
                "locale": h.locale,
                "title": h.title,
                "score": h.score,
                "snippet": h.snippet,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "hits": hits,
        "total": r.total,
        "limit": limit,
        "offset": offset,
        "took_ms": round_ms(started),
    })))
}
