//! Saved ticket views: filters in the list API's own query syntax (one parser for both),
//! a sort, and the columns to show. Personal views belong to their agent; shared views are
//! made and changed by admins and supervisors and seen by everyone. Listing a view's tickets
//! applies the viewer's own visibility, so sharing a view never shares tickets.

use crate::api::tickets::{ticket_query, ListParams};
use crate::error::{ApiResult, AppError};
use crate::extract::Query;
use crate::extract::{Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tend_core::{parse_line, Actor, Viewer};
use tend_store::*;

/// Column name and heading, in the order a list shows them.
pub const COLUMNS: &[(&str, &str)] = &[
    ("requester", "Requester"),
    ("status", "Status"),
    ("priority", "Priority"),
    ("assignee", "Assignee"),
    ("group", "Group"),
    ("channel", "Channel"),
    ("due", "Next SLA due"),
    ("updated", "Updated (UTC)"),
    ("created", "Created (UTC)"),
];

/// The columns of the built-in views and of a saved view that names none.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "requester",
    "status",
    "priority",
    "assignee",
    "due",
    "updated",
];

/// Personal views per agent.
pub const MAX_PER_AGENT: usize = 100;
const FILTERS_MAX: usize = 2000;
const NAME_MAX: usize = 80;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewIn {
    pub name: String,
    /// e.g. `status=new,open&group_id=3&tag=vip` (the list API's parameters).
    #[serde(default)]
    pub filters: String,
    pub sort: Option<String>,
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub shared: bool,
}

/// The list API's parameters in a filter string, checked as `GET /api/v1/tickets` checks them.
fn parse_filters(raw: &str) -> ApiResult<ListParams> {
    let raw = raw.trim().trim_start_matches('?');
    if raw.len() > FILTERS_MAX {
        return Err(AppError::invalid(
            "filters",
            format!("must be at most {FILTERS_MAX} characters"),
        ));
    }
    for (k, _) in form_urlencoded::parse(raw.as_bytes()) {
        if matches!(k.as_ref(), "cursor" | "limit" | "sort") {
            return Err(AppError::invalid(
                "filters",
                format!("'{k}' is not a filter: give the order as \"sort\" and leave paging to the list"),
            ));
        }
    }
    serde_urlencoded::from_str::<ListParams>(raw)
        .map_err(|e| AppError::invalid("filters", format!("{e}; filters use the parameters of GET /api/v1/tickets, e.g. status=new,open&group_id=3")))
}

/// Checks a view as an agent would save it.
pub fn check(b: ViewIn, v: &Viewer) -> ApiResult<NewSavedView> {
    if b.shared && !v.sees_all() {
        return Err(AppError::Forbidden(
            "only admins and supervisors may share views; leave out \"shared\" for a personal one"
                .into(),
        ));
    }
    let name = parse_line("name", &b.name, NAME_MAX)?;
    let filters = b.filters.trim().trim_start_matches('?').to_string();
    ticket_query(parse_filters(&filters)?, v).map_err(|e| match e {
        AppError::BadRequest(m) => AppError::invalid("filters", m),
        other => other,
    })?;
    let sort = b
        .sort
        .unwrap_or_else(|| TicketSort::default().as_str().into());
    if TicketSort::parse(&sort).is_none() {
        return Err(AppError::invalid(
            "sort",
            format!("must be one of {}", TicketSort::NAMES),
        ));
    }
    let columns = match b.columns {
        None => DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
        Some(cols) => {
            if cols.is_empty() {
                return Err(AppError::invalid("columns", "name at least one column"));
            }
            let mut seen = Vec::new();
            for c in &cols {
                if !COLUMNS.iter().any(|(k, _)| k == c) {
                    let names: Vec<&str> = COLUMNS.iter().map(|(k, _)| *k).collect();
                    return Err(AppError::invalid(
                        "columns",
                        format!("unknown column '{c}': pick from {}", names.join(", ")),
                    ));
                }
                if seen.contains(c) {
                    return Err(AppError::invalid(
                        "columns",
                        format!("'{c}' is named twice"),
                    ));
                }
                seen.push(c.clone());
            }
            seen
        }
    };
    Ok(NewSavedView {
        owner_id: (!b.shared).then_some(v.agent_id),
        name,
        filters,
        sort,
        columns,
    })
}

/// Whether the viewer may open the view (shared, or their own).
pub fn may_see(view: &SavedView, v: &Viewer) -> bool {
    view.owner_id.is_none_or(|o| o == v.agent_id)
}

/// Whether the viewer may change or delete it.
pub fn may_edit(view: &SavedView, v: &Viewer) -> bool {
    match view.owner_id {
        Some(o) => o == v.agent_id,
        None => v.sees_all(),
    }
}

/// The ticket query a saved view stands for, for this viewer (their own visibility).
pub fn query_of(view: &SavedView, v: &Viewer) -> ApiResult<TicketQuery> {
    let mut q = ticket_query(parse_filters(&view.filters)?, v)?;
    q.sort = TicketSort::parse(&view.sort).unwrap_or_default();
    Ok(q)
}

/// A view the viewer may see, or 404 (never 403: another agent's views are not theirs to know).
pub async fn visible(s: &AppState, id: i64, v: &Viewer) -> ApiResult<SavedView> {
    let view = s.store.get_saved_view(id).await?;
    if may_see(&view, v) {
        Ok(view)
    } else {
        Err(AppError::not_found("view"))
    }
}

/// Creates a view after the checks (the per-agent limit included).
pub async fn create_checked(s: &AppState, b: ViewIn, v: &Viewer) -> ApiResult<SavedView> {
    let new = check(b, v)?;
    if new.owner_id.is_some() {
        let own = s
            .store
            .list_saved_views(v.agent_id)
            .await?
            .iter()
            .filter(|x| x.owner_id == Some(v.agent_id))
            .count();
        if own >= MAX_PER_AGENT {
            return Err(AppError::Conflict(format!(
                "you have {MAX_PER_AGENT} personal views: delete one before saving another"
            )));
        }
    }
    Ok(s.store
        .create_saved_view(new, Actor::agent(v.agent_id), s.now())
        .await?)
}

/// Replaces a view the viewer may edit.
pub async fn update_checked(s: &AppState, id: i64, b: ViewIn, v: &Viewer) -> ApiResult<SavedView> {
    let view = visible(s, id, v).await?;
    if !may_edit(&view, v) {
        return Err(AppError::Forbidden(
            "only admins and supervisors change shared views".into(),
        ));
    }
    let new = check(b, v)?;
    Ok(s.store
        .update_saved_view(id, new, Actor::agent(v.agent_id), s.now())
        .await?)
}

pub async fn delete_checked(s: &AppState, id: i64, v: &Viewer) -> ApiResult<()> {
    let view = visible(s, id, v).await?;
    if !may_edit(&view, v) {
        return Err(AppError::Forbidden(
            "only admins and supervisors delete shared views".into(),
        ));
    }
    Ok(s.store
        .delete_saved_view(id, Actor::agent(v.agent_id), s.now())
        .await?)
}

pub async fn list(State(s): State<AppState>, Auth(v): Auth) -> ApiResult<axum::Json<Value>> {
    Ok(axum::Json(
        json!({ "items": s.store.list_saved_views(v.agent_id).await? }),
    ))
}

pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<ViewIn>,
) -> ApiResult<(StatusCode, axum::Json<SavedView>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_checked(&s, b, &v).await?),
    ))
}

pub async fn get_one(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
) -> ApiResult<axum::Json<SavedView>> {
    Ok(axum::Json(visible(&s, id, &v).await?))
}

pub async fn replace(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Json(b): Json<ViewIn>,
) -> ApiResult<axum::Json<SavedView>> {
    Ok(axum::Json(update_checked(&s, id, b, &v).await?))
}

pub async fn delete(State(s): State<AppState>, Auth(v): Auth, Id(id): Id) -> ApiResult<StatusCode> {
    delete_checked(&s, id, &v).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/views/{id}/tickets`: a page of the view's tickets (the viewer's visibility)
/// and how many there are in all.
pub async fn tickets(
    State(s): State<AppState>,
    Auth(v): Auth,
    Id(id): Id,
    Query(p): Query<PageParams>,
) -> ApiResult<axum::Json<Value>> {
    let view = visible(&s, id, &v).await?;
    let mut q = query_of(&view, &v)?;
    q.limit = crate::api::check_limit(p.limit)?;
    if let Some(c) = &p.cursor {
        q.cursor = Some(Cursor::decode(c, q.sort).ok_or_else(|| {
            AppError::BadRequest(
                "cursor is not one this view gave out: start again without it".into(),
            )
        })?);
    }
    let count = s.store.count_tickets(&q, &v, None).await?;
    let page = s.store.list_tickets(&q, &v).await?;
    Ok(axum::Json(json!({
        "view": view,
        "count": count,
        "items": page.items,
        "next_cursor": page.next_cursor,
    })))
}
