//! Ticket views: the built-in ones (mine, unassigned, all open, SLA at risk, one per group),
//! saved views (personal or shared; filters in the list API's syntax), their counts, and the
//! pages to make, change and delete saved views.

use super::pages::{nav, short_time, Nav, OPEN};
use super::{csrf_ok, forbidden_csrf, form_error, render, Session};
use crate::api::views::{self as saved, ViewIn, COLUMNS, DEFAULT_COLUMNS};
use crate::{AppError, AppState};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use tend_core::{Channel, Priority, Status};
use tend_store::*;

pub struct Row {
    pub id: i64,
    pub subject: String,
    pub status: String,
    pub priority: String,
    pub requester: String,
    pub assignee: String,
    pub group: String,
    pub channel: String,
    pub updated: String,
    pub created: String,
    /// "in 25 min" / "overdue 1 h 12 min" for the next SLA due time, or empty.
    pub due: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "view.html")]
struct ViewPage {
    nav: Nav,
    title: String,
    rows: Vec<Row>,
    next: Option<String>,
    key: String,
    done: Option<String>,
    /// Ordered by next SLA due time rather than by the view's own order.
    by_due: bool,
    /// The `sort` parameter the next-page link must carry, if the agent picked one.
    sort_param: Option<String>,
    /// The "SLA at risk" view explains its window.
    note: Option<String>,
    /// How the list is ordered, in words.
    order_label: &'static str,
    /// (column, heading) in order.
    cols: Vec<(String, String)>,
    /// A saved view the agent may change: its id.
    editable: Option<i64>,
}

#[derive(Deserialize)]
pub struct ViewParams {
    cursor: Option<String>,
    done: Option<usize>,
    skipped: Option<usize>,
    /// `due`: next SLA due time first; `updated`: last update first.
    sort: Option<String>,
}

/// The "SLA at risk" view's window: targets due within the SLA warning time (at least an
/// hour), and those already overdue.
fn at_risk_window(warn_before_minutes: i64) -> chrono::Duration {
    chrono::Duration::minutes(warn_before_minutes.max(60))
}

/// "in 25 min", "overdue 1 h 12 min" (rounded down to minutes).
fn due_text(due: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let whole = |d: chrono::Duration| chrono::Duration::minutes(d.num_minutes());
    if due <= now {
        format!(
            "overdue {}",
            tend_core::sla::format_duration(whole(now - due))
        )
    } else {
        format!("in {}", tend_core::sla::format_duration(whole(due - now)))
    }
}

/// What a view shows: its query (for this agent), title, note, columns, and whether the
/// agent may edit it (saved views).
pub(super) struct ViewDef {
    pub q: TicketQuery,
    pub title: String,
    note: Option<String>,
    columns: Vec<String>,
    editable: Option<i64>,
}

/// The view behind a key; `None` for an unknown view or one the agent may not open. The
/// counts in the navigation use the same queries.
pub(super) async fn view_def(
    s: &AppState,
    sess: &Session,
    key: &str,
) -> Result<Option<ViewDef>, AppError> {
    let mut q = TicketQuery {
        statuses: OPEN.to_vec(),
        limit: 50,
        ..Default::default()
    };
    let mut note = None;
    let mut columns: Vec<String> = DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect();
    let mut editable = None;
    let title = match key {
        "mine" => {
            q.assignee_id = Some(Some(sess.viewer.agent_id));
            "My open tickets".to_string()
        }
        "unassigned" => {
            q.assignee_id = Some(None);
            q.statuses = vec![Status::New, Status::Open];
            "Unassigned".to_string()
        }
        "open" => "All open".to_string(),
        "at-risk" => {
            let Some((cfg, _)) = crate::api::sla::load(s).await? else {
                return Ok(None);
            };
            let window = at_risk_window(cfg.warn_before_minutes);
            q.sla_due_before = Some(s.now() + window);
            q.sort = TicketSort::SlaDueAsc;
            note = Some(format!(
                "Open tickets with an SLA target due within {} or already overdue, the most urgent first.",
                tend_core::sla::format_duration(window)
            ));
            "SLA at risk".to_string()
        }
        other => {
            if let Some(g) = other
                .strip_prefix("group-")
                .and_then(|g| g.parse::<i64>().ok())
            {
                match s.store.get_group(g).await {
                    Ok(group) => {
                        q.group_id = Some(Some(g));
                        group.name
                    }
                    Err(StoreError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
            } else if let Some(id) = other
                .strip_prefix("saved-")
                .and_then(|g| g.parse::<i64>().ok())
            {
                let view = match saved::visible(s, id, &sess.viewer).await {
                    Ok(v) => v,
                    Err(AppError::NotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                q = saved::query_of(&view, &sess.viewer)?;
                q.limit = 50;
                columns = view.columns.clone();
                editable = saved::may_edit(&view, &sess.viewer).then_some(view.id);
                view.name
            } else {
                return Ok(None);
            }
        }
    };
    Ok(Some(ViewDef {
        q,
        title,
        note,
        columns,
        editable,
    }))
}

/// The navigation's views: built-in, one per group the agent works in, then saved views.
pub(super) async fn nav_views(
    s: &AppState,
    sess: &Session,
) -> Result<Vec<(String, String)>, AppError> {
    let mut views = vec![
        ("mine".to_string(), "My open tickets".to_string()),
        ("unassigned".to_string(), "Unassigned".to_string()),
        ("open".to_string(), "All open".to_string()),
    ];
    if s.store
        .get_setting(crate::api::sla::SETTING)
        .await?
        .is_some()
    {
        views.push(("at-risk".to_string(), "SLA at risk".to_string()));
    }
    let groups = s.store.list_groups().await?;
    for g in groups
        .iter()
        .filter(|g| sess.viewer.sees_all() || sess.viewer.group_ids.contains(&g.id))
    {
        views.push((format!("group-{}", g.id), g.name.clone()));
    }
    for v in s.store.list_saved_views(sess.viewer.agent_id).await? {
        views.push((format!("saved-{}", v.id), v.name));
    }
    Ok(views)
}

/// View counters count this far and then say "10,000+": the exact size of a queue of a
/// hundred thousand tickets helps nobody, and counting it on every refresh costs more than
/// the page (measured at 1M tickets: 73 ms for the counters, bench/pages.py).
pub const COUNT_CAP: i64 = 10_000;

/// `GET /views/counts`: how many tickets each view in the navigation holds, for the
/// counters the page script fills in after load (so no page waits for them).
pub async fn view_counts(
    State(s): State<AppState>,
    sess: Session,
) -> Result<axum::Json<serde_json::Value>, AppError> {
    let mut out = serde_json::Map::new();
    let mut capped = Vec::new();
    for (key, _) in nav_views(&s, &sess).await? {
        if let Some(def) = view_def(&s, &sess, &key).await? {
            let n = s
                .store
                .count_tickets(&def.q, &sess.viewer, Some(COUNT_CAP + 1))
                .await?;
            if n > COUNT_CAP {
                capped.push(serde_json::Value::from(key.clone()));
            }
            out.insert(key, n.min(COUNT_CAP).into());
        }
    }
    // Views holding more than COUNT_CAP tickets: the page shows "10,000+".
    out.insert("_capped".into(), capped.into());
    Ok(axum::Json(serde_json::Value::Object(out)))
}

pub async fn view(
    State(s): State<AppState>,
    sess: Session,
    Path(key): Path<String>,
    Query(p): Query<ViewParams>,
) -> Result<Response, AppError> {
    let Some(def) = view_def(&s, &sess, &key).await? else {
        return Err(AppError::not_found("view"));
    };
    let mut q = def.q;
    let sort_param = match p.sort.as_deref() {
        None | Some("") => None,
        Some(x @ ("due" | "updated")) => Some(x.to_string()),
        Some(_) => {
            return Err(AppError::BadRequest(
                "sort must be 'due' (next SLA due time first) or 'updated' (last update first)"
                    .into(),
            ))
        }
    };
    match sort_param.as_deref() {
        Some("due") => q.sort = TicketSort::SlaDueAsc,
        Some(_) => q.sort = TicketSort::UpdatedDesc,
        None => {}
    }
    let by_due = q.sort == TicketSort::SlaDueAsc;
    if let Some(c) = &p.cursor {
        q.cursor = Some(Cursor::decode(c, q.sort).ok_or_else(|| {
            AppError::BadRequest("this page link is out of date: open the view again".into())
        })?);
    }
    let now = s.now();
    let page = s.store.list_tickets(&q, &sess.viewer).await?;
    let agents: HashMap<i64, String> = s
        .store
        .list_agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let groups: HashMap<i64, String> = s
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let mut rows = Vec::with_capacity(page.items.len());
    // A customer with several tickets on the page is read once.
    let mut requesters: HashMap<i64, String> = HashMap::new();
    for t in &page.items {
        let requester = match requesters.get(&t.requester_id) {
            Some(n) => n.clone(),
            None => {
                let n = s
                    .store
                    .get_customer(t.requester_id)
                    .await
                    .map(|c| c.name)
                    .unwrap_or_default();
                requesters.insert(t.requester_id, n.clone());
                n
            }
        };
        rows.push(Row {
            id: t.id,
            subject: t.subject.clone(),
            status: t.status.to_string(),
            priority: t.priority.to_string(),
            requester,
            assignee: t
                .assignee_id
                .and_then(|a| agents.get(&a).cloned())
                .unwrap_or_else(|| "—".into()),
            group: t
                .group_id
                .and_then(|g| groups.get(&g).cloned())
                .unwrap_or_else(|| "—".into()),
            channel: t.channel.to_string(),
            updated: short_time(t.updated_at),
            created: short_time(t.created_at),
            due: t.sla_due_at.map(|d| due_text(d, now)).unwrap_or_default(),
            overdue: t.sla_due_at.is_some_and(|d| d <= now),
        });
    }
    let cols = def
        .columns
        .iter()
        .filter_map(|c| {
            COLUMNS
                .iter()
                .find(|(k, _)| k == c)
                .map(|(k, h)| (k.to_string(), h.to_string()))
        })
        .collect();
    let nav = nav(&s, &sess, &key).await?;
    Ok(render(&ViewPage {
        nav,
        title: def.title,
        rows,
        next: page.next_cursor,
        key,
        by_due,
        sort_param,
        order_label: match q.sort {
            TicketSort::UpdatedDesc => "last update",
            TicketSort::UpdatedAsc => "oldest update first",
            TicketSort::CreatedDesc => "newest first",
            TicketSort::CreatedAsc => "oldest first",
            TicketSort::IdDesc | TicketSort::IdAsc => "ticket number",
            TicketSort::SlaDueAsc => "next SLA due",
        },
        note: def.note,
        cols,
        editable: def.editable,
        done: p.done.map(|d| match p.skipped.unwrap_or(0) {
            0 => format!("{d} ticket(s) changed."),
            n => format!("{d} ticket(s) changed; {n} skipped (not visible to you or not allowed)."),
        }),
    }))
}

// --- making and changing saved views ---------------------------------------------------

#[derive(Template)]
#[template(path = "view_edit.html")]
struct EditPage {
    nav: Nav,
    /// `None` for a new view.
    id: Option<i64>,
    error: Option<String>,
    name: String,
    statuses: Vec<(String, bool)>,
    priorities: Vec<(String, bool)>,
    /// any | me | none
    assignee: String,
    /// "" (any), "none", or a group id.
    group: String,
    groups: Vec<(String, String)>,
    channel: String,
    channels: Vec<String>,
    tag: String,
    sort: String,
    sorts: Vec<(String, String)>,
    columns: Vec<(String, String, bool)>,
    shared: bool,
    may_share: bool,
}

const SORTS: &[(&str, &str)] = &[
    ("-updated_at", "Last update, newest first"),
    ("updated_at", "Last update, oldest first"),
    ("-created_at", "Created, newest first"),
    ("created_at", "Created, oldest first"),
    ("sla_due_at", "Next SLA due first"),
];

/// The form's state, from a stored view or from what the agent sent.
struct FormState {
    name: String,
    filters: HashMap<String, String>,
    sort: String,
    columns: Vec<String>,
    shared: bool,
}

async fn edit_page(
    s: &AppState,
    sess: &Session,
    id: Option<i64>,
    f: FormState,
    error: Option<String>,
) -> Result<Response, AppError> {
    let list = |key: &str| -> Vec<String> {
        f.filters
            .get(key)
            .map(|v| v.split(',').map(|x| x.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let (st, pr) = (list("status"), list("priority"));
    let groups = s
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let nav = nav(s, sess, "").await?;
    Ok(render(&EditPage {
        nav,
        id,
        error,
        name: f.name,
        statuses: [
            Status::New,
            Status::Open,
            Status::Pending,
            Status::OnHold,
            Status::Solved,
            Status::Closed,
        ]
        .iter()
        .map(|x| (x.to_string(), st.contains(&x.to_string())))
        .collect(),
        priorities: [
            Priority::Low,
            Priority::Normal,
            Priority::High,
            Priority::Urgent,
        ]
        .iter()
        .map(|x| (x.to_string(), pr.contains(&x.to_string())))
        .collect(),
        assignee: f
            .filters
            .get("assignee_id")
            .cloned()
            .unwrap_or_else(|| "any".into()),
        group: f.filters.get("group_id").cloned().unwrap_or_default(),
        groups,
        channel: f.filters.get("channel").cloned().unwrap_or_default(),
        channels: Channel::ALL.iter().map(|c| c.to_string()).collect(),
        tag: f.filters.get("tag").cloned().unwrap_or_default(),
        sort: f.sort,
        sorts: SORTS
            .iter()
            .map(|(k, l)| (k.to_string(), l.to_string()))
            .collect(),
        columns: COLUMNS
            .iter()
            .map(|(k, h)| {
                (
                    k.to_string(),
                    h.to_string(),
                    f.columns.iter().any(|c| c == k),
                )
            })
            .collect(),
        shared: f.shared,
        may_share: sess.viewer.sees_all(),
    }))
}

/// `saved-12` → 12; built-in views cannot be edited.
fn saved_id(key: &str) -> Result<i64, AppError> {
    key.strip_prefix("saved-")
        .and_then(|x| x.parse().ok())
        .ok_or_else(|| AppError::not_found("view"))
}

pub async fn new_form(State(s): State<AppState>, sess: Session) -> Result<Response, AppError> {
    let f = FormState {
        name: String::new(),
        filters: HashMap::from([("status".to_string(), "new,open,pending,on_hold".to_string())]),
        sort: "-updated_at".into(),
        columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
        shared: false,
    };
    edit_page(&s, &sess, None, f, None).await
}

pub async fn edit_form(
    State(s): State<AppState>,
    sess: Session,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    let id = saved_id(&key)?;
    let view = saved::visible(&s, id, &sess.viewer).await?;
    if !saved::may_edit(&view, &sess.viewer) {
        return Err(AppError::Forbidden(
            "only admins and supervisors change shared views".into(),
        ));
    }
    let f = FormState {
        name: view.name,
        filters: form_urlencoded::parse(view.filters.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        sort: view.sort,
        columns: view.columns,
        shared: view.owner_id.is_none(),
    };
    edit_page(&s, &sess, Some(id), f, None).await
}

/// The form's fields (repeated checkboxes included) as a view and the state to show again.
fn read_form(body: &[u8]) -> (String, FormState) {
    let mut csrf = String::new();
    let mut name = String::new();
    let (mut statuses, mut priorities, mut columns) = (Vec::new(), Vec::new(), Vec::new());
    let mut filters: HashMap<String, String> = HashMap::new();
    let mut sort = "-updated_at".to_string();
    let mut shared = false;
    for (k, v) in form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "csrf" => csrf = v,
            "name" => name = v,
            "status" => statuses.push(v),
            "priority" => priorities.push(v),
            "column" => columns.push(v),
            "sort" => sort = v,
            "shared" => shared = v == "on" || v == "true",
            "assignee_id" if v != "any" && !v.is_empty() => {
                filters.insert("assignee_id".into(), v);
            }
            key @ ("group_id" | "channel" | "tag") if !v.trim().is_empty() => {
                filters.insert(key.to_string(), v.trim().to_string());
            }
            _ => {}
        }
    }
    if !statuses.is_empty() {
        filters.insert("status".into(), statuses.join(","));
    }
    if !priorities.is_empty() {
        filters.insert("priority".into(), priorities.join(","));
    }
    (
        csrf,
        FormState {
            name,
            filters,
            sort,
            columns,
            shared,
        },
    )
}

fn filters_string(f: &HashMap<String, String>) -> String {
    let mut keys: Vec<&String> = f.keys().collect();
    keys.sort();
    let mut out = form_urlencoded::Serializer::new(String::new());
    for k in keys {
        out.append_pair(k, &f[k]);
    }
    out.finish()
}

fn view_in(f: &FormState) -> ViewIn {
    ViewIn {
        name: f.name.clone(),
        filters: filters_string(&f.filters),
        sort: Some(f.sort.clone()),
        columns: Some(f.columns.clone()),
        shared: f.shared,
    }
}

pub async fn create(
    State(s): State<AppState>,
    sess: Session,
    body: Bytes,
) -> Result<Response, AppError> {
    let (csrf, f) = read_form(&body);
    if !csrf_ok(&sess.token, &csrf) {
        return Ok(forbidden_csrf());
    }
    match saved::create_checked(&s, view_in(&f), &sess.viewer).await {
        Ok(v) => Ok(Redirect::to(&format!("/views/saved-{}", v.id)).into_response()),
        Err(e) => edit_page(&s, &sess, None, f, Some(form_error(e)?)).await,
    }
}

pub async fn update(
    State(s): State<AppState>,
    sess: Session,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let id = saved_id(&key)?;
    let (csrf, f) = read_form(&body);
    if !csrf_ok(&sess.token, &csrf) {
        return Ok(forbidden_csrf());
    }
    match saved::update_checked(&s, id, view_in(&f), &sess.viewer).await {
        Ok(v) => Ok(Redirect::to(&format!("/views/saved-{}", v.id)).into_response()),
        Err(e) => edit_page(&s, &sess, Some(id), f, Some(form_error(e)?)).await,
    }
}

pub async fn delete(
    State(s): State<AppState>,
    sess: Session,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, AppError> {
    let id = saved_id(&key)?;
    let (csrf, _) = read_form(&body);
    if !csrf_ok(&sess.token, &csrf) {
        return Ok(forbidden_csrf());
    }
    saved::delete_checked(&s, id, &sess.viewer).await?;
    Ok(Redirect::to("/views/mine").into_response())
}
