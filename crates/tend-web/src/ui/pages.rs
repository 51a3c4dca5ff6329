//! Page handlers: thin — read the session, call the store, render a template.

use super::{csrf_ok, forbidden_csrf, render, Session};
use crate::auth::verify_password;
use crate::{AppError, AppState};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::collections::HashMap;
use tend_core::ticket::Patch;
use tend_core::{html, Actor, Priority, Status, Ticket};
use tend_store::*;

pub struct Nav {
    pub agent_name: String,
    pub csrf: String,
    pub views: Vec<(String, String)>,
    pub active: String,
    /// Admin pages, for admins: (path, label).
    pub admin: Vec<(String, String)>,
    /// The agent's routing availability (online, away, off): the header switch (issue 5).
    pub availability: String,
}

pub(super) async fn nav(s: &AppState, sess: &Session, active: &str) -> Result<Nav, AppError> {
    let me = s.store.get_agent(sess.viewer.agent_id).await?;
    let views = super::views::nav_views(s, sess).await?;
    Ok(Nav {
        agent_name: me.name,
        csrf: sess.csrf.clone(),
        availability: super::admin_routing::my_availability(s, sess.viewer.agent_id).await,
        views,
        active: active.to_string(),
        admin: if sess.viewer.is_admin() {
            vec![
                ("/admin/team".to_string(), "Team".to_string()),
                ("/admin/fields".to_string(), "Ticket fields".to_string()),
                ("/admin/mail".to_string(), "Mail intake".to_string()),
                ("/admin/brands".to_string(), "Brands".to_string()),
                ("/admin/sla".to_string(), "SLA".to_string()),
                ("/admin/routing".to_string(), "Routing".to_string()),
            ]
        } else {
            vec![]
        }
        .into_iter()
        .chain(
            sess.viewer
                .sees_all()
                .then(|| ("/reports".to_string(), "Reports".to_string())),
        )
        .chain(
            sess.viewer
                .sees_all()
                .then(|| ("/ops".to_string(), "Operations".to_string())),
        )
        .chain(std::iter::once((
            "/kb/analytics".to_string(),
            "Help center".to_string(),
        )))
        .collect(),
    })
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub struct NextParam {
    next: Option<String>,
    /// `done` after a password reset.
    reset: Option<String>,
}

/// Only local paths: no open redirects.
fn safe_next(n: Option<&str>) -> String {
    match n {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/views/mine".into(),
    }
}

pub async fn login_form(Query(q): Query<NextParam>) -> Response {
    render(&LoginPage {
        next: safe_next(q.next.as_deref()),
        error: None,
        notice: (q.reset.as_deref() == Some("done"))
            .then(|| "Your password is changed. Sign in with the new one.".to_string()),
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let now = s.now();
    let next = safe_next(f.next.as_deref());
    let email_key = format!("email:{}", f.email.trim().to_lowercase());
    let keys = [email_key.as_str()];
    if let Err(AppError::TooManyRequests { retry_after_secs }) = s.login_limiter.check(&keys, now) {
        return Ok(render(&LoginPage {
            notice: None,
            next,
            error: Some(format!(
                "Too many failed attempts. Try again in {} minutes.",
                retry_after_secs.div_ceil(60)
            )),
        }));
    }
    let agent = s
        .store
        .agent_by_email(f.email.trim())
        .await?
        .filter(|a| a.active);
    let hash = match &agent {
        Some(a) => s.store.agent_password_hash(a.id).await?,
        None => None,
    };
    let pw = f.password.clone();
    let ok = match hash {
        Some(h) => tokio::task::spawn_blocking(move || verify_password(&pw, &h))
            .await
            .unwrap_or(false),
        None => false,
    };
    let Some(agent) = agent.filter(|_| ok) else {
        s.login_limiter.fail(&keys, now);
        return Ok(render(&LoginPage {
            notice: None,
            next,
            error: Some("Wrong e-mail or password.".into()),
        }));
    };
    s.login_limiter.succeed(&keys);
    let (token, hash) = super::new_session_token();
    s.store
        .create_token(
            agent.id,
            tend_store::WEB_SESSION_TOKEN.into(),
            hash,
            Actor::agent(agent.id),
            now,
        )
        .await?;
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        == Some("https");
    let mut resp = Redirect::to(&next).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, super::session_cookie(&token, secure));
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(s): State<AppState>,
    sess: Session,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    s.store
        .revoke_token(&crate::auth::hash_token(&sess.token))
        .await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, super::clear_cookie());
    Ok(resp)
}

pub(super) const OPEN: [Status; 4] = [Status::New, Status::Open, Status::Pending, Status::OnHold];

pub(super) fn short_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Agent and group names by id, for describing events.
async fn names(s: &AppState) -> Result<(HashMap<i64, String>, HashMap<i64, String>), AppError> {
    let agents = s
        .store
        .list_agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let groups = s
        .store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    Ok((agents, groups))
}

pub struct Item {
    pub kind: String,
    pub who: String,
    pub at: String,
    pub html: String,
    pub text: String,
    pub public: bool,
    pub attachments: Vec<(i64, String)>,
    /// For mail: "From … · To … · Cc …".
    pub mail_line: Option<String>,
    /// The whole mail (with quoted history and signature) when `html` shows only the new part.
    pub folded: Option<String>,
    /// The intake entry with the raw mail (shown to admins).
    pub raw: Option<i64>,
}

/// What a mail message shows: the new part, and the whole mail folded when they differ.
fn mail_view(m: &Message) -> (String, Option<String>) {
    let cut = m
        .mail
        .as_ref()
        .filter(|x| x.direction == "in")
        .and_then(|x| match (x.signature_start, x.quote_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
        .filter(|c| *c > 0 && *c < m.body_text.len() && m.body_text.is_char_boundary(*c));
    match cut {
        Some(c) => (
            html::text_to_html(m.body_text[..c].trim_end()),
            Some(m.body_html.clone()),
        ),
        None => (m.body_html.clone(), None),
    }
}

/// SLA targets as shown: label, state, explanation.
type SlaRows = Vec<(String, String, String)>;

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    nav: Nav,
    t: Ticket,
    requester: Customer,
    items: Vec<Item>,
    others: Vec<(i64, String, String)>,
    agents: Vec<(i64, String)>,
    groups: Vec<(i64, String)>,
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    status: String,
    priority: String,
    assignee: i64,
    group: i64,
    macros: Vec<(i64, String)>,
    /// The SLA policy that applies and its targets: label, state, explanation.
    sla: Option<(String, SlaRows)>,
    /// A macro being applied: its id, title, and what it will change.
    applied: Option<(i64, String, String)>,
    prefill: String,
    prefill_note: bool,
    /// Help-center articles for this ticket (issue 6), with their public URLs.
    kb_suggestions: Vec<crate::helpcenter::deflect::AgentSuggestion>,
    /// The requester's survey answers, newest first.
    satisfaction: Vec<super::satisfaction::Answer>,
    /// Why the reply form was refused (shown above it), and the time typed into it.
    reply_error: Option<String>,
    time_spent_min: String,
}

#[derive(Deserialize)]
pub struct TicketParams {
    #[serde(rename = "macro")]
    macro_id: Option<i64>,
}

fn describe(
    c: &tend_core::Change,
    agents: &HashMap<i64, String>,
    groups: &HashMap<i64, String>,
) -> String {
    use tend_core::Change::*;
    let name = |id: &Option<i64>, m: &HashMap<i64, String>| {
        id.and_then(|i| m.get(&i).cloned())
            .unwrap_or_else(|| "nobody".into())
    };
    match c {
        Created { channel, .. } => format!("created the ticket via {channel}"),
        MessageAdded { .. } => String::new(),
        Linked {
            ticket_id,
            relation,
        } => match relation.as_str() {
            "follow_up_of" => format!("opened it as a follow-up of #{ticket_id}"),
            "followed_up_by" => format!("got a follow-up: #{ticket_id}"),
            other => format!("linked it to #{ticket_id} ({})", other.replace('_', " ")),
        },
        SubjectChanged { to, .. } => format!("renamed it to “{to}”"),
        StatusChanged { from, to } => format!("changed status {from} → {to}"),
        PriorityChanged { from, to } => format!("changed priority {from} → {to}"),
        AssigneeChanged { to, .. } => format!("assigned it to {}", name(to, agents)),
        GroupChanged { to, .. } => format!("moved it to group {}", name(to, groups)),
        TagsChanged { added, removed } => {
            let mut parts = vec![];
            if !added.is_empty() {
                parts.push(format!("added tags {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed tags {}", removed.join(", ")));
            }
            parts.join("; ")
        }
        FieldChanged { key, to, .. } => format!("set {key} to {to}"),
        SlaWarning { metric, due_at, .. } => format!(
            "warned: {} due {} UTC",
            metric.replace('_', " "),
            short_time(*due_at)
        ),
        SlaBreached {
            metric,
            due_at,
            escalated,
            ..
        } => {
            let mut s = format!(
                "SLA breached: {} was due {} UTC",
                metric.replace('_', " "),
                short_time(*due_at)
            );
            if !escalated.is_empty() {
                s.push_str(&format!(" — escalated: {}", escalated.join("; ")));
            }
            s
        }
        SlaEscalated {
            metric,
            level,
            escalated,
            ..
        } => format!(
            "SLA escalation level {level} for {}: {}",
            metric.replace('_', " "),
            escalated.join("; ")
        ),
        AutomationActed {
            trigger_id,
            automation_id,
            name,
            done,
        } => {
            let what = match (trigger_id, automation_id) {
                (Some(id), _) => format!("trigger “{name}” (#{id})"),
                (_, Some(id)) => format!("automation “{name}” (#{id})"),
                _ => format!("“{name}”"),
            };
            format!("{what}: {}", done.join("; "))
        }
        SurveySent { .. } | SurveyAnswered { .. } => {
            tend_core::survey_dims::describe(c).unwrap_or_default()
        }
    }
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePartial {
    items: Vec<Item>,
}

/// The timeline of a ticket as display items: messages, notes and described changes.
async fn timeline_items(
    s: &AppState,
    sess: &Session,
    t: &Ticket,
    requester: &Customer,
    (agents, groups): &(HashMap<i64, String>, HashMap<i64, String>),
) -> Result<Vec<Item>, AppError> {
    let id = t.id;
    let messages = s.store.list_messages(id, &sess.viewer).await?;
    let events = s
        .store
        .ticket_events(
            id,
            &sess.viewer,
            PageRequest {
                after_id: None,
                limit: 1000,
            },
        )
        .await?;
    let who = |a: &Actor| match a.kind {
        tend_core::ActorKind::Agent => {
            a.id.and_then(|i| agents.get(&i).cloned())
                .unwrap_or_else(|| "an agent".into())
        }
        tend_core::ActorKind::Customer => {
            if a.id == Some(requester.id) {
                requester.name.clone()
            } else {
                "a customer".into()
            }
        }
        tend_core::ActorKind::System => "Tend".into(),
    };
    let by_id: HashMap<i64, &Message> = messages.iter().map(|m| (m.id, m)).collect();
    let mut items = Vec::new();
    for e in &events.items {
        match &e.change {
            tend_core::Change::MessageAdded {
                message_id, public, ..
            } => {
                if let Some(m) = by_id.get(message_id) {
                    let (html, folded) = mail_view(m);
                    items.push(Item {
                        kind: if *public {
                            "message".into()
                        } else {
                            "note".into()
                        },
                        who: who(&m.author),
                        at: short_time(m.created_at),
                        html,
                        folded,
                        text: m.body_text.clone(),
                        public: *public,
                        attachments: m
                            .attachments
                            .iter()
                            .map(|a| (a.id, a.filename.clone()))
                            .collect(),
                        mail_line: m.mail.as_ref().map(|x| {
                            let mut l = format!(
                                "{} {}",
                                if x.direction == "in" {
                                    "E-mail from"
                                } else {
                                    "Mailed from"
                                },
                                x.from
                            );
                            if !x.to.is_empty() {
                                l.push_str(&format!(" · to {}", x.to.join(", ")));
                            }
                            if !x.cc.is_empty() {
                                l.push_str(&format!(" · cc {}", x.cc.join(", ")));
                            }
                            l
                        }),
                        raw: m
                            .mail
                            .as_ref()
                            .and_then(|x| x.intake_id)
                            .filter(|_| sess.viewer.is_admin()),
                    });
                }
            }
            other => items.push(Item {
                kind: "event".into(),
                who: who(&e.actor),
                at: short_time(e.at),
                html: String::new(),
                text: describe(other, agents, groups),
                public: true,
                attachments: vec![],
                mail_line: None,
                folded: None,
                raw: None,
            }),
        }
    }
    Ok(items)
}

/// GET /tickets/{id}/timeline: the timeline alone, for live reloads.
pub async fn timeline(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
) -> Result<Response, AppError> {
    let t = s.store.get_ticket(id, &sess.viewer).await?;
    let requester = s.store.get_customer(t.requester_id).await?;
    let items = timeline_items(&s, &sess, &t, &requester, &names(&s).await?).await?;
    Ok(render(&TimelinePartial { items }))
}

pub async fn ticket(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Query(params): Query<TicketParams>,
) -> Result<Response, AppError> {
    Ok(render(&ticket_page(&s, &sess, id, params.macro_id).await?))
}

async fn ticket_page(
    s: &AppState,
    sess: &Session,
    id: i64,
    macro_id: Option<i64>,
) -> Result<TicketPage, AppError> {
    let t = s.store.get_ticket(id, &sess.viewer).await?;
    let requester = s.store.get_customer(t.requester_id).await?;
    // Agents and groups are read once: for the timeline and for the field pickers.
    let agent_list = s.store.list_agents().await?;
    let group_list = s.store.list_groups().await?;
    let name_maps = (
        agent_list.iter().map(|a| (a.id, a.name.clone())).collect(),
        group_list.iter().map(|g| (g.id, g.name.clone())).collect(),
    );
    let items = timeline_items(s, sess, &t, &requester, &name_maps).await?;
    let q = TicketQuery {
        requester_id: Some(t.requester_id),
        limit: 10,
        ..Default::default()
    };
    let others = s
        .store
        .list_tickets(&q, &sess.viewer)
        .await?
        .items
        .into_iter()
        .filter(|o| o.id != t.id)
        .map(|o| (o.id, o.subject, o.status.to_string()))
        .collect();
    let nav = nav(s, sess, "").await?;
    let me = s.store.get_agent(sess.viewer.agent_id).await?;
    let macros = s.store.list_macros(me.id).await?;
    let (applied, prefill, prefill_note) = match macro_id {
        Some(mid) => {
            let m = s.store.get_macro(mid, me.id).await?;
            let text = crate::api::macros::render_for(&m, &t, &requester, &me)?;
            let mut changes = Vec::new();
            if let Some(st) = m.actions.status {
                changes.push(format!("status → {st}"));
            }
            if let Some(p) = m.actions.priority {
                changes.push(format!("priority → {p}"));
            }
            if !m.actions.add_tags.is_empty() {
                changes.push(format!("tags + {}", m.actions.add_tags.join(", ")));
            }
            if let Some(g) = m.actions.group_id {
                changes.push(format!(
                    "group → {}",
                    group_list
                        .iter()
                        .find(|x| x.id == g)
                        .map(|x| x.name.clone())
                        .unwrap_or_default()
                ));
            }
            let summary = if changes.is_empty() {
                "no field changes".to_string()
            } else {
                changes.join("; ")
            };
            (Some((m.id, m.title.clone(), summary)), text, !m.public)
        }
        None => (None, String::new(), false),
    };
    let sla = crate::api::sla::for_ticket(s, &sess.viewer, &t)
        .await?
        .map(|(policy, targets)| {
            let rows = targets
                .into_iter()
                .map(|ts| {
                    let name = match ts.metric {
                        tend_core::sla::Metric::FirstReply => "First reply".to_string(),
                        tend_core::sla::Metric::NextReply => format!("Next reply #{}", ts.cycle),
                        tend_core::sla::Metric::PeriodicUpdate => format!("Update #{}", ts.cycle),
                        tend_core::sla::Metric::Resolution => "Resolution".to_string(),
                    };
                    let state = serde_json::to_value(ts.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    (name, state, ts.explanation)
                })
                .collect();
            (policy, rows)
        });
    let kb_suggestions = crate::helpcenter::deflect::for_ticket(s, &sess.viewer, &t).await;
    let satisfaction = super::satisfaction::history(s, t.requester_id).await?;
    let page = TicketPage {
        kb_suggestions,
        satisfaction,
        sla,
        macros: macros.into_iter().map(|m| (m.id, m.title)).collect(),
        applied,
        prefill,
        prefill_note,
        nav,
        status: t.status.to_string(),
        priority: t.priority.to_string(),
        assignee: t.assignee_id.unwrap_or(0),
        group: t.group_id.unwrap_or(0),
        requester,
        items,
        others,
        agents: agent_list
            .iter()
            .filter(|a| a.active)
            .map(|a| (a.id, a.name.clone()))
            .collect(),
        groups: group_list.iter().map(|g| (g.id, g.name.clone())).collect(),
        statuses: Status::ALL.iter().map(|s| s.as_str()).collect(),
        priorities: Priority::ALL.iter().map(|p| p.as_str()).collect(),
        reply_error: None,
        time_spent_min: String::new(),
        t,
    };
    Ok(page)
}

/// The reply form's "Time spent (min)": empty for none, else whole minutes, 1 ..= 1440
/// (stored in seconds, checked by [`tend_core::ticket::check_time_spent`]).
fn form_time_spent(v: &str) -> Result<Option<u32>, String> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let bad =
        || "Time spent must be a whole number of minutes from 1 to 1440 (24 hours).".to_string();
    let min: i64 = v.parse().map_err(|_| bad())?;
    let secs = serde_json::Value::from(min.saturating_mul(60));
    tend_core::ticket::check_time_spent("time_spent_min", &secs)
        .map(Some)
        .map_err(|_| bad())
}

#[derive(Deserialize)]
pub struct ReplyForm {
    csrf: String,
    body: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    then_status: String,
    /// The macro applied to this reply: its field changes are made with it.
    #[serde(default)]
    macro_id: String,
    /// Time spent on this reply or note, in minutes (optional).
    #[serde(default)]
    time_spent_min: String,
}

pub async fn reply(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<ReplyForm>,
) -> Result<Response, AppError> {
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let body = f.body.trim().to_string();
    if body.is_empty() {
        return Ok(Redirect::to(&format!("/tickets/{id}?error=empty")).into_response());
    }
    tend_core::check_len("body", &body, tend_core::limits::BODY_MAX)?;
    let public = f.kind != "note";
    let time_spent_seconds = match form_time_spent(&f.time_spent_min) {
        Ok(t) => t,
        Err(msg) => {
            // Shown on the page, with what was typed kept.
            let mut page = ticket_page(&s, &sess, id, None).await?;
            page.reply_error = Some(msg);
            page.time_spent_min = f.time_spent_min.clone();
            page.prefill = f.body.clone();
            page.prefill_note = !public;
            let mut res = render(&page);
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let m = NewMessage {
        time_spent_seconds,
        public,
        body_html: html::text_to_html(&body),
        body_text: body,
        attachments: vec![],
        mail: None,
        notify: public,
    };
    let me = Actor::agent(sess.viewer.agent_id);
    s.store
        .add_message(id, m, &sess.viewer, me, s.now())
        .await?;
    let mut patch = match f.macro_id.parse::<i64>() {
        Ok(mid) => {
            crate::api::macros::patch_for(&s.store.get_macro(mid, sess.viewer.agent_id).await?)
        }
        Err(_) => Patch::default(),
    };
    if let Ok(st) = f.then_status.parse::<Status>() {
        patch.status = Some(st);
    }
    if !patch.is_empty() {
        s.store
            .update_ticket(id, patch, &sess.viewer, me, s.now())
            .await?;
    }
    Ok(Redirect::to(&format!("/tickets/{id}#latest")).into_response())
}

#[derive(Deserialize)]
pub struct UpdateForm {
    csrf: String,
    status: String,
    priority: String,
    assignee: String,
    group: String,
}

pub async fn update(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
    Form(f): Form<UpdateForm>,
) -> Result<Response, AppError> {
    if !csrf_ok(&sess.token, &f.csrf) {
        return Ok(forbidden_csrf());
    }
    let opt = |v: &str| -> Result<Option<i64>, AppError> {
        match v {
            "" | "0" => Ok(None),
            n => n
                .parse::<i64>()
                .map(Some)
                .map_err(|_| AppError::BadRequest("choose a value from the list".into())),
        }
    };
    let patch = Patch {
        status: Some(f.status.parse::<Status>()?),
        priority: Some(f.priority.parse::<Priority>()?),
        assignee_id: Some(opt(&f.assignee)?),
        group_id: Some(opt(&f.group)?),
        ..Default::default()
    };
    s.store
        .update_ticket(
            id,
            patch,
            &sess.viewer,
            Actor::agent(sess.viewer.agent_id),
            s.now(),
        )
        .await?;
    Ok(Redirect::to(&format!("/tickets/{id}")).into_response())
}

/// POST /bulk: one change for the selected tickets of a list (at most 100). Tickets the agent
/// may not see are skipped and counted.
pub async fn bulk(
    State(s): State<AppState>,
    sess: Session,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let mut ids = Vec::new();
    let (mut csrf, mut action, mut back) = (String::new(), String::new(), "mine".to_string());
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "ids" => ids.extend(v.parse::<i64>().ok()),
            "csrf" => csrf = v.into_owned(),
            "action" => action = v.into_owned(),
            "view" => back = v.into_owned(),
            _ => {}
        }
    }
    if !csrf_ok(&sess.token, &csrf) {
        return Ok(forbidden_csrf());
    }
    if ids.len() > 100 {
        return Err(AppError::BadRequest(
            "select at most 100 tickets at once".into(),
        ));
    }
    let patch = match action.split_once(':') {
        Some(("status", st)) => Patch {
            status: Some(st.parse::<Status>()?),
            ..Default::default()
        },
        Some(("assign", "me")) => Patch {
            assignee_id: Some(Some(sess.viewer.agent_id)),
            ..Default::default()
        },
        Some(("assign", "none")) => Patch {
            assignee_id: Some(None),
            ..Default::default()
        },
        _ => {
            return Err(AppError::BadRequest(
                "choose what to do with the selected tickets".into(),
            ))
        }
    };
    let me = Actor::agent(sess.viewer.agent_id);
    let mut skipped = 0;
    for id in &ids {
        match s
            .store
            .update_ticket(*id, patch.clone(), &sess.viewer, me, s.now())
            .await
        {
            Ok(_) => {}
            Err(tend_store::StoreError::NotFound(_))
            | Err(tend_store::StoreError::Invalid { .. }) => skipped += 1,
            Err(e) => return Err(e.into()),
        }
    }
    let back = if back.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        back
    } else {
        "mine".into()
    };
    Ok(Redirect::to(&format!(
        "/views/{back}?done={}&skipped={skipped}",
        ids.len() - skipped
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "customer.html")]
struct CustomerPage {
    nav: Nav,
    c: Customer,
    organization: Option<(i64, String)>,
    tickets: Vec<(i64, String, String, String)>,
    events: Vec<(i64, String, String, String)>,
    satisfaction: Vec<super::satisfaction::Answer>,
}

/// GET /customers/{id}: contact data, every ticket and the timeline across them.
pub async fn customer(
    State(s): State<AppState>,
    sess: Session,
    crate::extract::Id(id): crate::extract::Id,
) -> Result<Response, AppError> {
    let c = s.store.get_customer(id).await?;
    let organization = match c.organization_id {
        Some(o) => Some((o, s.store.get_organization(o).await?.name)),
        None => None,
    };
    let q = TicketQuery {
        requester_id: Some(id),
        limit: 100,
        ..Default::default()
    };
    let tickets = s
        .store
        .list_tickets(&q, &sess.viewer)
        .await?
        .items
        .into_iter()
        .map(|t| {
            (
                t.id,
                t.subject,
                t.status.to_string(),
                short_time(t.updated_at),
            )
        })
        .collect();
    let (agents, groups) = names(&s).await?;
    let events = s
        .store
        .customer_timeline(
            id,
            &sess.viewer,
            PageRequest {
                after_id: None,
                limit: 50,
            },
        )
        .await?
        .items
        .into_iter()
        .map(|e| {
            let who = match e.actor.kind {
                tend_core::ActorKind::Agent => e
                    .actor
                    .id
                    .and_then(|i| agents.get(&i).cloned())
                    .unwrap_or_else(|| "an agent".into()),
                tend_core::ActorKind::Customer => c.name.clone(),
                tend_core::ActorKind::System => "Tend".into(),
            };
            let what = match &e.change {
                tend_core::Change::MessageAdded { public: true, .. } => {
                    "wrote a message".to_string()
                }
                tend_core::Change::MessageAdded { public: false, .. } => {
                    "added an internal note".to_string()
                }
                other => describe(other, &agents, &groups),
            };
            (e.ticket_id, who, what, short_time(e.at))
        })
        .collect();
    let nav = nav(&s, &sess, "").await?;
    let satisfaction = super::satisfaction::history(&s, id).await?;
    Ok(render(&CustomerPage {
        nav,
        satisfaction,
        c,
        organization,
        tickets,
        events,
    }))
}
