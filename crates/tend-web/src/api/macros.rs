//! Macros: canned responses with placeholders that also set fields.

use crate::error::{ApiResult, AppError};
use crate::extract::{Auth, Id, Json};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::HashMap;
use tend_core::template::{first_name, render, validate_template, TICKET_PLACEHOLDERS};
use tend_core::{parse_line, parse_tags, Actor, Priority, Status, Ticket, Viewer};
use tend_store::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MacroIn {
    pub title: String,
    pub body: String,
    #[serde(default = "yes")]
    pub public: bool,
    /// Shared with every agent (admins and supervisors only); otherwise personal.
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub actions: ActionsIn,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionsIn {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    #[serde(default)]
    pub add_tags: Vec<String>,
    pub group_id: Option<i64>,
}

pub async fn list(
    State(s): State<AppState>,
    Auth(v): Auth,
) -> ApiResult<axum::Json<serde_json::Value>> {
    Ok(axum::Json(
        serde_json::json!({ "items": s.store.list_macros(v.agent_id).await? }),
    ))
}

pub async fn create(
    State(s): State<AppState>,
    Auth(v): Auth,
    Json(b): Json<MacroIn>,
) -> ApiResult<(StatusCode, axum::Json<Macro>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(create_checked(&s, &v, b).await?),
    ))
}

/// Creates a macro after the checks; the API and the macros page call it.
pub async fn create_checked(s: &AppState, v: &Viewer, b: MacroIn) -> ApiResult<Macro> {
    if b.shared && !v.sees_all() {
        return Err(AppError::Forbidden(
            "only admins and supervisors may share macros; leave out \"shared\" for a personal one"
                .into(),
        ));
    }
    let title = parse_line("title", &b.title, tend_core::limits::NAME_MAX)?;
    tend_core::check_len("body", &b.body, 100_000)?;
    validate_template(&b.body, TICKET_PLACEHOLDERS).map_err(tend_core::Invalid::from)?;
    if let Some(g) = b.actions.group_id {
        s.store
            .get_group(g)
            .await
            .map_err(|_| AppError::invalid("actions.group_id", format!("no group {g}")))?;
    }
    let actions = MacroActions {
        status: b.actions.status,
        priority: b.actions.priority,
        add_tags: parse_tags(&b.actions.add_tags)?,
        group_id: b.actions.group_id,
    };
    let new = NewMacro {
        title,
        owner_id: if b.shared { None } else { Some(v.agent_id) },
        body: b.body,
        public: b.public,
        actions,
    };
    Ok(s.store
        .create_macro(new, Actor::agent(v.agent_id), s.now())
        .await?)
}

pub async fn delete(State(s): State<AppState>, Auth(v): Auth, Id(id): Id) -> ApiResult<StatusCode> {
    delete_checked(&s, &v, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a macro the viewer may delete: their own, or a shared one as admin or supervisor.
pub async fn delete_checked(s: &AppState, v: &Viewer, id: i64) -> ApiResult<()> {
    let m = s.store.get_macro(id, v.agent_id).await?;
    if m.owner_id.is_none() && !v.sees_all() {
        return Err(AppError::Forbidden(
            "only admins and supervisors may delete shared macros".into(),
        ));
    }
    s.store
        .delete_macro(id, Actor::agent(v.agent_id), s.now())
        .await?;
    Ok(())
}

/// The macro's text for this ticket, customer and agent.
pub fn render_for(
    m: &Macro,
    t: &Ticket,
    customer: &tend_store::Customer,
    agent: &Agent,
) -> Result<String, AppError> {
    let mut v: HashMap<String, String> = HashMap::new();
    v.insert("ticket.id".into(), t.id.to_string());
    v.insert("ticket.subject".into(), t.subject.clone());
    v.insert("ticket.status".into(), t.status.to_string());
    v.insert("ticket.priority".into(), t.priority.to_string());
    v.insert("customer.name".into(), customer.name.clone());
    v.insert("customer.first_name".into(), first_name(&customer.name));
    v.insert(
        "customer.email".into(),
        customer.email().unwrap_or("").to_string(),
    );
    v.insert("agent.name".into(), agent.name.clone());
    v.insert("agent.first_name".into(), first_name(&agent.name));
    render(&m.body, &v).map_err(|e| AppError::from(tend_core::Invalid::from(e)))
}

/// The ticket changes a macro makes.
pub fn patch_for(m: &Macro) -> tend_core::ticket::Patch {
    tend_core::ticket::Patch {
        status: m.actions.status,
        priority: m.actions.priority,
        add_tags: m.actions.add_tags.clone(),
        group_id: m.actions.group_id.map(Some),
        ..Default::default()
    }
}
